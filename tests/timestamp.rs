//! RFC 3161 tokens from a real TSA (`openssl ts -reply`) checked by the library (SPEC §12.7).
#![cfg(feature = "tsa")]

use sealtrail::timestamp::{TimestampError, TimestampRequest, TsaTrust, verify_token};
use sealtrail_testkit::openssl_tsa::{KeyType, Pki, Usage};

const NOTE: &[u8] = b"example.com/log#sha256\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 example.com/log#sha256 abcd\n";

fn trust(path: &std::path::Path) -> TsaTrust {
    TsaTrust::from_pem_or_der(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn openssl_tokens_verify_and_mismatches_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "a");
    for key in [KeyType::Rsa, KeyType::P256] {
        let tsa = pki.tsa(&format!("tsa-{key:?}"), Usage::Timestamping, key);
        let req = TimestampRequest::new(NOTE, [7; 16]).unwrap();
        let reply = tsa.reply(req.der());
        let (token, info) = req.accept(&reply).unwrap();
        assert!(info.tsa.contains("tsa-"), "{info:?}");
        let checked = verify_token(&token, NOTE, &trust(&pki.ca_pem())).unwrap();
        assert_eq!(checked, info);
        assert!(tsa.openssl_verifies(&token, NOTE));
        // Another note: the imprint does not match.
        assert_eq!(
            verify_token(&token, b"another note", &trust(&pki.ca_pem())),
            Err(TimestampError::ImprintMismatch)
        );
        // A reply to another request (another nonce).
        let other = TimestampRequest::new(NOTE, [9; 16]).unwrap();
        assert_eq!(
            other.accept(&reply).unwrap_err(),
            TimestampError::NonceMismatch
        );
    }
}
