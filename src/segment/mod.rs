//! Segment files (the storage v2 layout; **not yet used by the log**, which still keeps its
//! entries in sled, SPEC §9.1). This first part is the file backend: the file operations
//! segment, tile and state files need, behind a small [`Backend`] trait — [`FsBackend`] on
//! `std::fs`, and [`SimBackend`] in memory, which simulates power loss for tests.

mod backend;
mod sim;

pub use backend::{Backend, BackendFile, FsBackend, OpenMode};
pub use sim::{SimBackend, SimRng};
