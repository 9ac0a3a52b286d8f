//! Descriptor decoding (SPEC §5): `Descriptor::decode` and `SignedDescriptor::from_bytes` never
//! panic; an accepted descriptor re-encodes to exactly its input, satisfies the rules a new one is
//! checked against, and names a log origin whose checkpoint origin line reads back to it.
#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use sealtrail::checkpoint::LogOrigin;
use sealtrail::hash::LogId;
use sealtrail::registry::KeyRegistry;
use sealtrail::{Descriptor, SignedDescriptor};

fn check_descriptor(d: &Descriptor) {
    let again = Descriptor::new(d.suite, &d.origin, d.owner, d.created)
        .expect("a decoded descriptor passes the rules of a new one");
    assert_eq!(&again, d);
    let log = LogOrigin::of(d).expect("a decoded origin is a log origin");
    let line = log.checkpoint_origin();
    assert_eq!(LogOrigin::from_checkpoint_origin(&line), Ok(log));
}

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = Descriptor::decode(data) {
        assert_eq!(d.encode(), data);
        check_descriptor(&d);
    }
    if let Ok(signed) = SignedDescriptor::from_bytes(data) {
        assert_eq!(signed.as_bytes(), data);
        let d = signed.descriptor();
        assert_eq!(d.encode(), signed.descriptor_bytes());
        assert_eq!(
            Descriptor::decode(signed.descriptor_bytes()).ok().as_ref(),
            Some(d)
        );
        assert_eq!(
            signed.log_id(),
            LogId::compute(d.suite, signed.descriptor_bytes())
        );
        check_descriptor(d);
        // Every verifier starts its key registry from the descriptor's owner.
        let registry = KeyRegistry::genesis(d);
        assert!(registry.is_ok(), "{registry:?}");
    }
});

// Half libFuzzer's byte mutations, half edits of the CBOR tree (fuzz/src/mutator.rs).
fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    sealtrail_fuzz::mutator::mutate_cbor(data, size, max_size, seed)
});
