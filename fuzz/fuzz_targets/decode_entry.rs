//! Entry decoding (SPEC §6): never panics, and an accepted entry re-encodes to exactly its input.
//! The same bytes are also read as a bare header and as a bundle's entry item (SPEC §12.1).
#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use sealtrail::bundle::EntryItem;
use sealtrail::entry::{Entry, EntryHeader, check_links};
use sealtrail::{EntryHash, Suite};

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = Entry::from_bytes(data) {
        assert_eq!(entry.as_bytes(), data);
        assert_eq!(entry.header().encode(), entry.header_bytes());
        let again = Entry::assemble(
            entry.header().clone(),
            entry.header_bytes(),
            *entry.signature(),
        );
        assert_eq!(again.as_bytes(), data);
        // What every verifier computes from an entry it decoded.
        for suite in [Suite::Blake3, Suite::Sha256] {
            assert_eq!(
                entry.hash(suite),
                EntryHash::compute(suite, entry.header_bytes())
            );
        }
        let _ = entry.signing_input();
    }
    if let Ok(header) = EntryHeader::decode(data) {
        assert_eq!(header.encode(), data);
        assert!(check_links(header.seq, &header.links).is_ok());
    }
    if let Ok(item) = EntryItem::decode(data) {
        assert_eq!(item.encode(), data);
    }
});

// Half libFuzzer's byte mutations, half edits of the CBOR tree (fuzz/src/mutator.rs).
fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    sealtrail_fuzz::mutator::mutate_cbor(data, size, max_size, seed)
});
