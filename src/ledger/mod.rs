//! The ledger: an append-only, hash-chained event log.
//!
//! - [`LedgerStore`] is the write side of a backend. The store owns the log's order: inside
//!   its own transaction it checks each stream's expected version, assigns gap-free
//!   positions, chains the hashes ([`replay::chain_hash`]), folds the batch into the SQL
//!   read models and moves their checkpoints, then commits. A store may cache the head for
//!   speed; the database is the authority (a stale cache costs a retry, never a fork).
//! - [`LedgerReader`] is the read side: `head`, `read_stream`, `read_all`, `read_lifecycle`
//!   and `wait_beyond` (tailing, woken by this process's appends and by other writers').
//! - [`writer`] is the group commit in front of a store.
//! - [`sql`] is how read models say what to write, without naming a backend.
//! - [`trail`] is what a trail query selects and the terms each event is filed under.
//!
//! Nothing outside this module names sqlx or a backend's types.

pub mod files;
pub mod memory;
pub mod postgres;
pub(crate) mod reads;
pub mod sql;
pub mod sqlite;
pub mod tile_cache;
pub mod trail;
pub mod writer;

use crate::domain::events::DomainEvent;
use crate::domain::ids::KeyId;
use std::future::Future;
use std::ops::Range;
use time::OffsetDateTime;
use uuid::Uuid;

pub use writer::{CommitListener, Ledger, TailLag};

/// The most bytes one event may have: every event is an entry of the trail's C2SP
/// tlog-tiles entry bundles, where an entry is prefixed with its length as a big-endian
/// uint16. A larger one could be appended and proven, but never bundled, so the ledger
/// refuses it (the service answers such a call as refused before it appends:
/// `app::Service::audit_batch`).
pub const MAX_EVENT_BYTES: usize = u16::MAX as usize;

/// Checkpoints are made at least this often while there are new events.
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// An event to append: its envelope JSON (what the chain hashes), the columns stored
/// beside it (they repeat what the JSON says; `verify` checks they agree), and — for
/// lifecycle events — the typed fact for the in-memory projections.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The stream and the version this event takes in it (expected = version - 1).
    pub stream: Option<(String, u64)>,
    pub event_name: String,
    pub data: Vec<u8>,
    pub columns: Columns,
    /// The typed fact and its time, for lifecycle events.
    pub lifecycle: Option<(DomainEvent, OffsetDateTime)>,
}

/// What the log stores beside each event's JSON, so that read models are rebuilt from
/// columns rather than by parsing every event. Rendered when the event is made (on the
/// request's thread), so the single writer only binds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    pub event_id: String,
    /// The envelope's time, in Unix nanoseconds.
    pub time_ns: i64,
    /// The ids of the KMS keys the event concerns, space-separated (`replay::columns`
    /// defines them: a usage event's resources, a key stream's key); `None` when none.
    pub keys: Option<String>,
    pub error_code: Option<String>,
    /// The calling account and principal ARN (`replay::columns` defines them).
    pub account: Option<String>,
    pub principal: Option<String>,
    /// A usage event's record terms, given by the call (not stored: they are in the JSON).
    pub record: Option<trail::RecordTerms<'static>>,
}

impl Columns {
    pub fn new(
        event_id: Uuid,
        time: OffsetDateTime,
        keys: Option<String>,
        error_code: Option<String>,
    ) -> Columns {
        Columns {
            event_id: event_id.to_string(),
            // i64 nanoseconds reach the year 2262.
            time_ns: time.unix_timestamp_nanos() as i64,
            keys,
            error_code,
            account: None,
            principal: None,
            record: None,
        }
    }

    /// The same columns, naming the caller.
    pub fn with_caller(mut self, account: Option<String>, principal: Option<String>) -> Columns {
        self.account = account;
        self.principal = principal;
        self
    }

    /// The same columns, with the terms the usage event's record was made of.
    pub fn with_record(mut self, record: trail::RecordTerms<'static>) -> Columns {
        self.record = Some(record);
        self
    }
}

/// Events that must be durable together, plus shredding keys created with them. Every
/// append records at least one event (audit-first: a call is always its usage event).
#[derive(Debug, Default, Clone)]
pub struct AppendBatch {
    pub events: Vec<NewEvent>,
    pub shredding_keys: Vec<(KeyId, Vec<u8>)>,
    /// Keys whose shredding keys are destroyed in the same transaction (crypto-shredding).
    pub shredded: Vec<KeyId>,
}

/// An event as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub position: u64,
    pub stream: Option<String>,
    pub stream_version: Option<u64>,
    pub event_name: String,
    pub data: Vec<u8>,
    pub hash: [u8; 32],
    pub event_id: Option<String>,
    pub time_ns: Option<i64>,
    pub keys: Option<String>,
    pub error_code: Option<String>,
    pub account: Option<String>,
    pub principal: Option<String>,
}

impl StoredEvent {
    /// The event as read models fold it.
    pub(crate) fn columns(&self) -> sql::EventColumns<'_> {
        sql::EventColumns {
            position: self.position,
            stream: self.stream.as_deref(),
            event_name: &self.event_name,
            event_id: self.event_id.as_deref().unwrap_or_default(),
            time_ns: self.time_ns.unwrap_or_default(),
            keys: self.keys.as_deref().unwrap_or_default(),
            error_code: self.error_code.as_deref(),
            account: self.account.as_deref(),
            principal: self.principal.as_deref(),
            data: &self.data,
            record: None,
        }
    }
}

/// Where the log ends: its last position and hash (0 and the genesis hash when empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub position: u64,
    pub hash: [u8; 32],
}

impl Default for Head {
    fn default() -> Self {
        Head {
            position: 0,
            hash: replay::GENESIS_HASH,
        }
    }
}

pub(crate) fn storage(e: impl std::fmt::Display) -> StoreError {
    StoreError::Storage(e.to_string())
}

#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("ledger storage failed: {0}")]
    Storage(String),
    #[error("ledger data is invalid at position {position}: {reason}")]
    Corrupt { position: u64, reason: String },
}

/// Optimistic concurrency: the stream had moved on since the command decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream {stream} is at version {actual}, not {expected}")]
pub struct Conflict {
    pub stream: String,
    pub expected: u64,
    pub actual: u64,
}

/// Why an append did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// Nothing was recorded: the caller must fail the request.
    #[error("the ledger is unavailable: {0}")]
    Unavailable(String),
}

/// The outcome of one append of a group commit: its positions, or the conflict that kept it out.
pub type AppendOutcome = Result<Range<u64>, Conflict>;

/// The write side of a backend (SQLite, the in-memory store; PostgreSQL later). Only the
/// writer task of a node writes through it, but several nodes or processes may write to
/// one database: the store, not the caller, decides positions and versions.
pub trait LedgerStore: Send + 'static {
    /// Append independent batches in one transaction. A batch whose expected stream versions
    /// are stale is left out and answered with its [`Conflict`]; the others land together,
    /// in the order given, with gap-free positions, and are durable when this returns Ok.
    fn append(
        &mut self,
        batches: &[&AppendBatch],
    ) -> impl Future<Output = Result<Vec<AppendOutcome>, StoreError>> + Send;

    /// The head as the database has it now (not a cached one).
    fn head(&mut self) -> impl Future<Output = Result<Head, StoreError>> + Send;

    /// Sign and store a checkpoint of the tree as this store last appended it, unless the
    /// newest stored checkpoint already has that size (then `None`).
    fn write_checkpoint(
        &mut self,
        signer: &dyn CheckpointSigner,
    ) -> impl Future<Output = Result<Option<StoredCheckpoint>, StoreError>> + Send;

    /// What other nodes appended that this store has found (while appending, or in
    /// [`catch_up`](LedgerStore::catch_up)) and not yet handed over, in log order: the
    /// writer tells it to the projections before anything of its own. Backends that one
    /// node writes alone find nothing.
    fn take_foreign(&mut self) -> Foreign {
        Foreign::default()
    }

    /// Look for other nodes' appends now (the writer calls it when [`foreign_appends`]
    /// says there are some).
    ///
    /// [`foreign_appends`]: LedgerStore::foreign_appends
    fn catch_up(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send {
        async { Ok(()) }
    }

    /// The newest head position any node has announced, for backends shared by nodes.
    fn foreign_appends(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }
}

/// Other nodes' lifecycle events, with the shredding keys of the keys they name: what a
/// node's in-memory projections need of appends it did not make.
#[derive(Debug, Default)]
pub struct Foreign {
    pub events: Vec<(u64, NewEvent)>,
    pub shredding_keys: Vec<(KeyId, Vec<u8>)>,
    /// The head position this store has now caught up to.
    pub head: u64,
}

/// Signs tree heads: the ledger's note key, which the ledger module never sees.
pub trait CheckpointSigner: Send + Sync + 'static {
    /// The signed C2SP checkpoint note of the tree of `size` leaves with `root`.
    fn sign(&self, size: u64, root: [u8; 32]) -> Result<String, String>;
}

/// A signed checkpoint as stored (every one is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: [u8; 32],
    /// The signed note, byte for byte.
    pub note: String,
    /// When it was made, Unix nanoseconds.
    pub time_ns: i64,
}

impl StoredCheckpoint {
    fn new(size: u64, root: [u8; 32], note: String) -> StoredCheckpoint {
        StoredCheckpoint {
            size,
            root,
            note,
            time_ns: OffsetDateTime::now_utc().unix_timestamp_nanos() as i64,
        }
    }
}

/// Reads of a ledger, for projections, point-in-time queries, rebuilds and tailing.
/// Cheap to clone; every backend is a variant.
#[derive(Clone)]
pub enum LedgerReader {
    Sqlite(sqlite::SqliteReader),
    Postgres(postgres::PostgresReader),
    Memory(memory::MemoryReader),
}

impl LedgerReader {
    /// How many nodes serve this ledger: 1 for a file or memory (one process holds it), the
    /// nodes connected to the database for PostgreSQL.
    pub async fn node_count(&self) -> Result<u64, StoreError> {
        match self {
            LedgerReader::Postgres(r) => r.node_count().await,
            LedgerReader::Sqlite(_) | LedgerReader::Memory(_) => Ok(1),
        }
    }

    pub async fn head(&self) -> Result<Head, StoreError> {
        match self {
            LedgerReader::Sqlite(r) => r.head().await,
            LedgerReader::Postgres(r) => r.head().await,
            LedgerReader::Memory(r) => Ok(r.head()),
        }
    }

    /// The events of `stream` with a version of at least `from_version`, in order.
    pub async fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        match self {
            LedgerReader::Sqlite(r) => r.read_stream(stream, from_version).await,
            LedgerReader::Postgres(r) => r.read_stream(stream, from_version).await,
            LedgerReader::Memory(r) => Ok(r.read_stream(stream, from_version)),
        }
    }

    /// Up to `limit` events after position `after`, in log order. Call again from the last
    /// position returned to read on: this is `read_all(from)` in pages, so a reader never
    /// holds the whole log in memory.
    pub async fn read_all(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        match self {
            LedgerReader::Sqlite(r) => r.read_all(after, limit, false).await,
            LedgerReader::Postgres(r) => r.read_all(after, limit, false).await,
            LedgerReader::Memory(r) => Ok(r.read_all(after, limit, false)),
        }
    }

    /// Every event on a stream (the lifecycle events) after `after`, in log order: what the
    /// in-memory projections are rebuilt from.
    pub async fn read_lifecycle(&self, after: u64) -> Result<Vec<StoredEvent>, StoreError> {
        let mut out = Vec::new();
        let mut from = after;
        loop {
            let page = match self {
                LedgerReader::Sqlite(r) => r.read_all(from, 10_000, true).await?,
                LedgerReader::Postgres(r) => r.read_all(from, 10_000, true).await?,
                LedgerReader::Memory(r) => r.read_all(from, 10_000, true),
            };
            let Some(last) = page.last() else {
                return Ok(out);
            };
            from = last.position;
            out.extend(page);
        }
    }

    /// Wait until the log holds a position beyond `position`, and return the head then.
    /// Appends through this process wake it at once; another writer's appends (another
    /// process on the same file) are seen within the backend's polling interval.
    pub async fn wait_beyond(&self, position: u64) -> Result<Head, StoreError> {
        match self {
            LedgerReader::Sqlite(r) => r.wait_beyond(position).await,
            LedgerReader::Postgres(r) => r.wait_beyond(position).await,
            LedgerReader::Memory(r) => Ok(r.wait_beyond(position).await),
        }
    }

    /// The trail tree's stored hashes at `level` (a tile level) with indexes in `range`.
    pub async fn stored_hashes(
        &self,
        level: u8,
        range: Range<u64>,
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        let hashes = match self {
            LedgerReader::Sqlite(r) => r.stored_hashes(level, range.clone()).await?,
            LedgerReader::Postgres(r) => r.stored_hashes(level, range.clone()).await?,
            LedgerReader::Memory(r) => r.stored_hashes(level, range.clone()),
        };
        if hashes.len() as u64 != range.end - range.start {
            return Err(StoreError::Corrupt {
                position: range.start + 1,
                reason: format!("the trail tree lacks stored hashes at level {level} in {range:?}"),
            });
        }
        Ok(hashes)
    }

    /// Answer a tree query (root, inclusion or consistency proof) from stored hashes.
    pub async fn tree(&self, query: replay::trail::Query) -> Result<Vec<[u8; 32]>, StoreError> {
        let invalid = |e: replay::trail::TrailError| StoreError::Corrupt {
            position: 0,
            reason: e.to_string(),
        };
        let mut needs = query.needs().map_err(invalid)?;
        needs.sort_by_key(|(level, range)| (*level, range.start, range.end));
        needs.dedup();
        // What earlier proofs read is answered from memory; the rest is read in one round
        // trip (a proof needs about one range per tree level).
        let mut fetched = replay::trail::Fetched::default();
        let to_read = match self.tiles() {
            Some(tiles) => tiles.lookup(&needs, &mut fetched),
            None => needs,
        };
        if !to_read.is_empty() {
            let read = match self {
                LedgerReader::Sqlite(r) => r.stored_hash_ranges(&to_read).await?,
                LedgerReader::Postgres(r) => r.stored_hash_ranges(&to_read).await?,
                LedgerReader::Memory(_) => {
                    let mut read = replay::trail::Fetched::default();
                    for (level, range) in &to_read {
                        let hashes = self.stored_hashes(*level, range.clone()).await?;
                        read.0
                            .extend(range.clone().map(|i| (*level, i)).zip(hashes));
                    }
                    read
                }
            };
            if let Some(tiles) = self.tiles() {
                tiles.remember(&to_read, &read);
            }
            fetched.0.extend(read.0);
        }
        query.answer(&fetched).map_err(invalid)
    }

    /// The stored hashes this reader remembers (not the in-memory store's: it has them all).
    fn tiles(&self) -> Option<&tile_cache::TileCache> {
        match self {
            LedgerReader::Sqlite(r) => Some(&r.tiles),
            LedgerReader::Postgres(r) => Some(&r.tiles),
            LedgerReader::Memory(_) => None,
        }
    }

    /// The newest checkpoint, or the one of exactly `size` leaves.
    pub async fn checkpoint(
        &self,
        size: Option<u64>,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        match self {
            LedgerReader::Sqlite(r) => r.checkpoint(size).await,
            LedgerReader::Postgres(r) => r.checkpoint(size).await,
            LedgerReader::Memory(r) => Ok(r.checkpoint(size)),
        }
    }

    /// Every stored checkpoint, smallest first.
    pub async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        match self {
            LedgerReader::Sqlite(r) => r.checkpoints().await,
            LedgerReader::Postgres(r) => r.checkpoints().await,
            LedgerReader::Memory(r) => Ok(r.checkpoints()),
        }
    }

    /// The event with this event id (the CloudTrail eventID).
    pub async fn event_by_id(&self, event_id: &str) -> Result<Option<StoredEvent>, StoreError> {
        match self {
            LedgerReader::Sqlite(r) => r.event_by_id(event_id).await,
            LedgerReader::Postgres(r) => r.event_by_id(event_id).await,
            LedgerReader::Memory(r) => Ok(r.event_by_id(event_id)),
        }
    }

    /// A page of the trail: the usage events `query` selects, newest first (SQLite answers
    /// from the `trail_index` read model; see [`trail`]).
    pub async fn trail(
        &self,
        query: &trail::TrailQuery,
    ) -> Result<Vec<trail::TrailHit>, StoreError> {
        if let Some(event_id) = query.event_id() {
            return self.trail_event(event_id, query).await;
        }
        match self {
            LedgerReader::Sqlite(r) => r.trail(query).await,
            LedgerReader::Postgres(r) => r.trail(query).await,
            LedgerReader::Memory(r) => Ok(r.trail(query)),
        }
    }

    /// A trail query that names an event id selects that event at most: it is found
    /// through the log's own unique index on event ids (the trail index files no event
    /// under its id, decision 0010), then checked against the query's other filters.
    async fn trail_event(
        &self,
        event_id: &str,
        query: &trail::TrailQuery,
    ) -> Result<Vec<trail::TrailHit>, StoreError> {
        let Some(event) = self.event_by_id(event_id).await? else {
            return Ok(Vec::new());
        };
        let columns = event.columns();
        let time_ns = columns.time_ns;
        let selected = query.limit > 0
            && query.selects_event(
                event_id,
                &trail::index_terms(&columns),
                time_ns,
                event.position,
            );
        Ok(if selected {
            vec![trail::TrailHit {
                position: event.position,
                time_ns,
                data: event.data,
            }]
        } else {
            Vec::new()
        })
    }

    /// A key's last successful cryptographic use (the `key_usage` view), and since when the
    /// ledger records.
    pub async fn key_usage_report(
        &self,
        key_id: &str,
    ) -> Result<trail::KeyUsageReport, StoreError> {
        match self {
            LedgerReader::Sqlite(r) => r.key_usage_report(key_id).await,
            LedgerReader::Postgres(r) => r.key_usage_report(key_id).await,
            LedgerReader::Memory(r) => Ok(r.key_usage_report(key_id)),
        }
    }

    /// The `billing` model's rows for `month`'s report (a superset: the report picks).
    pub async fn billing_input(
        &self,
        month: replay::billing::BillingMonth,
        account: Option<&str>,
    ) -> Result<replay::billing::BillingInput, StoreError> {
        match self {
            LedgerReader::Sqlite(r) => r.billing_input(month, account).await,
            LedgerReader::Postgres(r) => r.billing_input(month, account).await,
            LedgerReader::Memory(r) => Ok(r.billing_input()),
        }
    }

    /// The `compliance` model's rows for a report as of `as_of_ns` over the days from
    /// `from_day`.
    pub async fn compliance_input(
        &self,
        as_of_ns: i64,
        from_day: i64,
    ) -> Result<crate::projections::compliance::ComplianceInput, StoreError> {
        match self {
            LedgerReader::Sqlite(r) => r.compliance_input(as_of_ns, from_day).await,
            LedgerReader::Postgres(r) => r.compliance_input(as_of_ns, from_day).await,
            LedgerReader::Memory(r) => Ok(r.compliance_input(as_of_ns, from_day)),
        }
    }

    /// Every key's last successful cryptographic use (Unix ns), from the `key_usage` view.
    pub async fn last_cryptographic_uses(
        &self,
    ) -> Result<std::collections::BTreeMap<String, i64>, StoreError> {
        match self {
            LedgerReader::Sqlite(r) => r.last_cryptographic_uses().await,
            LedgerReader::Postgres(r) => r.last_cryptographic_uses().await,
            LedgerReader::Memory(r) => Ok(r.last_cryptographic_uses()),
        }
    }

    /// The wrapped shredding keys of every key not yet shredded.
    pub async fn shredding_keys(&self) -> Result<Vec<(KeyId, Vec<u8>)>, StoreError> {
        match self {
            LedgerReader::Sqlite(r) => r.shredding_keys().await,
            LedgerReader::Postgres(r) => r.shredding_keys().await,
            LedgerReader::Memory(r) => Ok(r.shredding_keys()),
        }
    }
}

/// Check `batch`'s stream versions against `current` (a stream's version now, 0 when new),
/// counting the batch's own earlier events. Returns the versions the streams reach.
pub(crate) fn check_streams(
    batch: &AppendBatch,
    mut current: impl FnMut(&str) -> u64,
) -> Result<Vec<(String, u64)>, Conflict> {
    let mut reached: Vec<(String, u64)> = Vec::new();
    for event in &batch.events {
        if let Some((stream, version)) = &event.stream {
            let actual = reached
                .iter()
                .rev()
                .find(|(s, _)| s == stream)
                .map(|(_, v)| *v)
                .unwrap_or_else(|| current(stream));
            let expected = version.saturating_sub(1);
            if actual != expected {
                return Err(Conflict {
                    stream: stream.clone(),
                    expected,
                    actual,
                });
            }
            reached.push((stream.clone(), *version));
        }
    }
    Ok(reached)
}

/// Decide which batches go in against `streams` (each stream's version now; absent: 0),
/// counting earlier accepted batches of the same group. Returns each batch's outcome
/// (accepted ones with an empty range, filled by [`chain_rows`]) and the versions reached.
pub(crate) fn decide(
    batches: &[&AppendBatch],
    streams: &std::collections::HashMap<String, u64>,
) -> (Vec<AppendOutcome>, std::collections::HashMap<String, u64>) {
    let mut reached: std::collections::HashMap<String, u64> = Default::default();
    let outcomes = batches
        .iter()
        .map(|batch| {
            let versions = check_streams(batch, |s| {
                reached
                    .get(s)
                    .or_else(|| streams.get(s))
                    .copied()
                    .unwrap_or(0)
            })?;
            reached.extend(versions);
            Ok(0..0)
        })
        .collect();
    (outcomes, reached)
}

/// One event row as an append writes it.
pub(crate) struct EventRow<'a> {
    pub position: u64,
    pub stream: Option<&'a str>,
    pub stream_version: Option<u64>,
    pub event_name: &'a str,
    pub data: &'a [u8],
    pub hash: [u8; 32],
    pub columns: &'a Columns,
}

impl<'a> EventRow<'a> {
    /// The row as read models fold it.
    pub(crate) fn folded(&self) -> sql::EventColumns<'a> {
        sql::EventColumns {
            position: self.position,
            stream: self.stream,
            event_name: self.event_name,
            event_id: &self.columns.event_id,
            time_ns: self.columns.time_ns,
            keys: self.columns.keys.as_deref().unwrap_or(""),
            error_code: self.columns.error_code.as_deref(),
            account: self.columns.account.as_deref(),
            principal: self.columns.principal.as_deref(),
            data: self.data,
            record: self.columns.record.as_ref(),
        }
    }
}

/// Chain the accepted batches' events from `start`, giving each accepted outcome its range
/// of positions.
pub(crate) fn chain_rows<'a>(
    batches: &[&'a AppendBatch],
    outcomes: &mut [AppendOutcome],
    start: Head,
) -> Vec<EventRow<'a>> {
    let mut rows = Vec::new();
    let mut position = start.position;
    let mut hash = start.hash;
    for (batch, outcome) in batches.iter().zip(outcomes.iter_mut()) {
        let Ok(range) = outcome else { continue };
        let first = position + 1;
        for event in &batch.events {
            position += 1;
            hash = replay::chain_hash(&hash, position, &event.data);
            rows.push(EventRow {
                position,
                stream: event.stream.as_ref().map(|(s, _)| s.as_str()),
                stream_version: event.stream.as_ref().map(|(_, v)| *v),
                event_name: &event.event_name,
                data: &event.data,
                hash,
                columns: &event.columns,
            });
        }
        *range = first..position + 1;
    }
    rows
}

/// Each read model's statements for `rows`, in the models' order.
pub(crate) fn fold_models(
    models: &[std::sync::Arc<dyn sql::ReadModel>],
    rows: &[EventRow<'_>],
) -> Vec<sql::Statements> {
    let columns: Vec<sql::EventColumns<'_>> = rows.iter().map(EventRow::folded).collect();
    models
        .iter()
        .map(|model| {
            let mut statements = sql::Statements::default();
            model.apply(&columns, &mut statements);
            statements
        })
        .collect()
}

/// The stored hashes the frontier of a trail tree of `size` leaves is made from: (level,
/// index range), one per frontier subtree; [`frontier_from`] makes it from them.
pub(crate) fn frontier_needs(size: u64) -> Vec<(u8, Range<u64>)> {
    replay::trail::frontier_ranges(size)
        .into_iter()
        .map(|(level, start)| replay::trail::node_source(level, start >> level))
        .collect()
}

/// The frontier of the stored tree of `size` leaves from the hashes [`frontier_needs`] named.
pub(crate) fn frontier_from(
    size: u64,
    stored: Vec<Vec<[u8; 32]>>,
) -> Result<replay::trail::Frontier, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        position: size,
        reason,
    };
    let roots = replay::trail::frontier_ranges(size)
        .into_iter()
        .zip(&stored)
        .map(|((level, start), stored)| {
            replay::trail::node_from_stored(level, start >> level, stored)
                .map_err(|e| corrupt(format!("trail tree: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    replay::trail::Frontier::from_subtrees(size, roots)
        .map_err(|e| corrupt(format!("trail tree: {e}")))
}
