//! The ledger: an append-only, hash-chained event log behind the
//! [`LedgerStore`] trait, and the group-commit [`writer`] in front of it.

pub mod sqlite;
pub mod writer;

use crate::domain::events::DomainEvent;
use crate::domain::ids::KeyId;
use std::collections::HashMap;
use std::future::Future;
use time::OffsetDateTime;

pub use writer::{CommitListener, Ledger};

/// An event to append: its envelope JSON (what the chain hashes), the
/// indexed columns, and — for lifecycle events — the typed fact for projections.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The stream and the version this event takes in it (expected = version - 1).
    pub stream: Option<(String, u64)>,
    pub event_name: String,
    pub data: Vec<u8>,
    /// The typed fact and its time, for lifecycle events.
    pub lifecycle: Option<(DomainEvent, OffsetDateTime)>,
}

/// Events that must be durable together, plus shredding keys created with them.
#[derive(Debug, Default, Clone)]
pub struct AppendBatch {
    pub events: Vec<NewEvent>,
    pub shredding_keys: Vec<(KeyId, Vec<u8>)>,
    /// Keys whose shredding keys are destroyed in the same transaction (crypto-shredding).
    pub shredded: Vec<KeyId>,
}

/// One row as the store writes it.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub position: u64,
    pub stream: Option<&'a str>,
    pub stream_version: Option<u64>,
    pub event_name: &'a str,
    pub data: &'a [u8],
    pub hash: [u8; 32],
}

/// Where the log stands: the last position and hash, and every stream's version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Heads {
    pub position: u64,
    pub hash: [u8; 32],
    pub streams: HashMap<String, u64>,
}

#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("ledger storage failed: {0}")]
    Storage(String),
    #[error("ledger data is invalid at position {position}: {reason}")]
    Corrupt { position: u64, reason: String },
}

/// Why an append did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// Optimistic concurrency: the stream moved on since the command decided.
    #[error("stream {stream} is at version {actual}, not {expected}")]
    Conflict {
        stream: String,
        expected: u64,
        actual: u64,
    },
    /// Nothing was recorded: the caller must fail the request.
    #[error("the ledger is unavailable: {0}")]
    Unavailable(String),
}

/// A storage backend (SQLite now, PostgreSQL later). Only the writer task writes.
pub trait LedgerStore: Send + 'static {
    fn heads(&mut self) -> impl Future<Output = Result<Heads, StoreError>> + Send;
    /// Write `rows` and `shredding_keys` in one transaction, durable when this returns Ok.
    fn commit(
        &mut self,
        rows: &[Row<'_>],
        shredding_keys: &[(KeyId, Vec<u8>)],
        shredded: &[KeyId],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
