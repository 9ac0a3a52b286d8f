//! Entry decoding: never panics, and an accepted entry re-encodes to exactly its input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealtrail::entry::Entry;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = Entry::from_bytes(data) {
        assert_eq!(entry.as_bytes(), data);
        assert_eq!(entry.header().encode(), entry.header_bytes());
        let again = Entry::assemble(entry.header().clone(), entry.header_bytes(), *entry.signature());
        assert_eq!(again.as_bytes(), data);
    }
});
