//! What the tests and the demonstration share, outside the library's public API: two recorded
//! sessions ([`scenario`]) and the keys and logs of the integration tests ([`fixtures`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod fixtures;
pub mod scenario;
