//! What the tests and the demonstration share, outside the library's public API: two recorded
//! sessions ([`scenario`]) and the keys and logs of the integration tests ([`fixtures`]); with
//! the `schema` feature, the check every report JSON the tests produce goes through
//! ([`report_schema`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod fixtures;
pub mod openssl_tsa;
#[cfg(feature = "schema")]
pub mod report_schema;
pub mod scenario;
