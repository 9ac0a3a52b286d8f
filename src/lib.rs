// In rustdoc, README's links to the files beside it point at the package's sources on docs.rs:
// CommonMark uses the first definition of a link label, and these come before README's own.
#![doc = "[SPEC.md]: https://docs.rs/crate/sealtrail/latest/source/SPEC.md"]
#![doc = "[BENCHMARKS.md]: https://docs.rs/crate/sealtrail/latest/source/BENCHMARKS.md"]
#![doc = "[FUZZING.md]: https://docs.rs/crate/sealtrail/latest/source/FUZZING.md"]
#![doc = ""]
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod approval;
pub mod archive;
pub mod bundle;
pub mod checkpoint;
pub mod codec;
pub mod defects;
pub mod descriptor;
pub mod entry;
pub mod hash;
pub mod html;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod registry;
pub mod renewal;
pub mod report;
pub mod source;
mod text;
pub mod time;
#[cfg(feature = "tsa")]
pub mod timestamp;
pub mod verify;

pub mod log;
pub mod segment;
pub mod store;
pub mod tiles;

pub use checkpoint::{
    Checkpoint, CheckpointTrust, LogOrigin, SignedCheckpoint, TlogProof, VerifiedCheckpoint,
    WitnessKey, WitnessPolicy, Witnesses, checkpoint_origin,
};
pub mod compare;
pub mod event;
pub mod lineage;
pub mod origin;
pub mod policy;
pub mod query;
pub mod replay;
pub mod retention;
pub mod trace;

pub use approval::{Approval, Gate, Meaning, Subjects, Verdict};
pub use descriptor::{Descriptor, SignedDescriptor};
pub use entry::{Entry, EntryHeader, Kind, Link, Payload, SessionId};
pub use event::Event;
pub use hash::{Digest, EntryHash, LogId, PayloadCommitment, RootHash, Suite};
pub use keys::{KeyId, PublicKey, SecretKey};
pub use log::{Clock, Durability, Log, LogBuilder, Receipt, Record, StoredEntry};
pub use note::SignedNote;
pub use registry::Role;
pub use source::{EntrySource, PayloadState};
pub use time::Timestamp;
pub use verify::{Check, VerifyError};
