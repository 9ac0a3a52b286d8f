#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod codec;
pub mod descriptor;
pub mod entry;
pub mod hash;
pub mod keys;
pub mod merkle;
pub mod registry;
pub mod time;
pub mod verify;

pub mod log;
pub mod store;

pub use descriptor::{Descriptor, SignedDescriptor};
pub use entry::{Entry, EntryHeader, Kind, Link, Payload, SessionId};
pub use hash::{Digest, EntryHash, LogId, PayloadCommitment, RootHash, Suite};
pub use keys::{KeyId, PublicKey, SecretKey};
pub use log::{Clock, Durability, Log, LogBuilder, Receipt, Record, StoredEntry};
pub use registry::Role;
pub use time::Timestamp;
pub use verify::{Check, VerifyError};
