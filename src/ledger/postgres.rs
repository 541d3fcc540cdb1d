//! The PostgreSQL ledger (sqlx): several keyledger nodes on one database
//! (`docs/decisions/0012-postgresql-ledger.md`).
//!
//! Each node's writer appends a group commit as one transaction that first takes a
//! transaction-level advisory lock ([`APPEND_LOCK`]). Under it the store reads the head,
//! takes in what other nodes appended since it last looked (their lifecycle events for the
//! projections, their leaves for the trail tree), checks stream versions against the
//! database, and writes the events, the tree's hashes, the shredding keys and every read
//! model, so positions and the chain are gap-free and in commit order across nodes. The
//! unique index on (stream, stream_version) is the last line of defence. The commit
//! announces the new head on [`CHANNEL`] (LISTEN/NOTIFY), which wakes the other nodes.

use super::reads::{EVENT_COLUMNS, PAGE};
use super::sql::{ColumnNeeds, EventColumns, ReadModel, Statements, Value};
use super::{
    storage, AppendBatch, AppendOutcome, CheckpointSigner, Foreign, Head, LedgerReader,
    LedgerStore, NewEvent, StoreError, StoredCheckpoint,
};
use crate::domain::events::Envelope;
use crate::domain::ids::KeyId;
use replay::trail::{Frontier, StoredHash};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgListener, PgPoolOptions, PgRow};
use sqlx::{Arguments as _, PgConnection, PgPool, Row as _};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The advisory lock every append transaction holds until it commits ("keyledger" in
/// ASCII, one more for opening). One lock for the whole log: see the decision record.
pub const APPEND_LOCK: i64 = 0x6b65_796c_6564_6765;
/// Held, at session level, by a node while it migrates, rebuilds and bootstraps.
const OPEN_LOCK: i64 = APPEND_LOCK + 1;
/// The channel each commit announces its new head position on.
pub const CHANNEL: &str = "keyledger_appended";
/// How often a node looks for other nodes' appends when no notification came (a lost
/// LISTEN connection is re-made, but notifications sent meanwhile are gone).
const TAIL_POLL: Duration = Duration::from_millis(500);
/// Times an append is tried again after an ambiguous failure that did not land.
const MAX_ATTEMPTS: usize = 3;

/// Whether `location` names a PostgreSQL database rather than a SQLite file.
pub use replay::is_postgres_url;
/// A PostgreSQL URL without its password (userinfo or query), for messages.
pub use replay::without_userinfo as redacted;

/// Faults a test can switch on in a real store.
#[derive(Debug, Default)]
pub struct Faults {
    /// Commit for real, then report an error (an error after the data landed).
    pub report_failure_after_commit: AtomicBool,
}

/// How long commits held the advisory lock, and their sizes: the ceiling one global lock
/// puts on the log (`docs/decisions/0012-postgresql-ledger.md`). Logged every few seconds
/// at debug level (`KEYLEDGER_LOG=keyledger::ledger::postgres=debug`).
#[derive(Debug, Default)]
struct LockStats {
    /// (microseconds the lock was held, events appended), one per commit.
    commits: Vec<(u32, u32)>,
    since: Option<std::time::Instant>,
}

impl LockStats {
    fn record(&mut self, held: Duration, events: usize) {
        let since = *self.since.get_or_insert_with(std::time::Instant::now);
        self.commits
            .push((held.as_micros().min(u32::MAX as u128) as u32, events as u32));
        if since.elapsed() < Duration::from_secs(5) {
            return;
        }
        let mut held: Vec<u32> = self.commits.iter().map(|c| c.0).collect();
        held.sort_unstable();
        let at = |q: f64| held[((held.len() - 1) as f64 * q) as usize];
        let events: u64 = self.commits.iter().map(|c| c.1 as u64).sum();
        let busy: u64 = held.iter().map(|&h| h as u64).sum();
        tracing::debug!(
            commits = held.len(),
            events_per_commit = events as f64 / held.len() as f64,
            lock_held_p50_us = at(0.5),
            lock_held_p99_us = at(0.99),
            // Events per second of lock time: what one lock allows, whatever the nodes.
            lock_ceiling_events_per_s = events as f64 * 1e6 / busy.max(1) as f64,
            "advisory lock"
        );
        *self = LockStats::default();
    }
}

/// One node's writer: a pool, the head it last saw and the caches that go with it.
pub struct PostgresStore {
    pool: PgPool,
    /// A cache: the database is the authority, and every append reads the head under the
    /// lock; when it moved, the store takes in what moved it first.
    head: Head,
    streams: HashMap<String, u64>,
    tree: Frontier,
    read_models: Vec<Arc<dyn ReadModel>>,
    appended: watch::Sender<u64>,
    announced: watch::Receiver<u64>,
    faults: Arc<Faults>,
    foreign: Foreign,
    lock_stats: LockStats,
}

/// The read side: a pool, woken by this node's appends and by every node's announcements.
#[derive(Clone)]
pub struct PostgresReader {
    pool: PgPool,
    appended: watch::Receiver<u64>,
    /// Stored tree hashes read by earlier proofs (shared by every clone).
    pub(super) tiles: Arc<super::tile_cache::TileCache>,
}

/// The `application_name` prefix of a serving node's connections (offline tools, which
/// connect without it, are not nodes).
pub const NODE_APPLICATION_PREFIX: &str = "keyledger node ";

impl PostgresReader {
    /// How many keyledger nodes are connected to this database now (at least this one):
    /// the request quotas are shared out by it (decision 0018).
    pub async fn node_count(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT application_name) FROM pg_stat_activity \
             WHERE datname = current_database() AND starts_with(application_name, $1)",
        )
        .bind(NODE_APPLICATION_PREFIX)
        .fetch_one(&self.pool)
        .await
        .map_err(storage)?;
        Ok(count.max(1) as u64)
    }
}

/// An opened database: this node's writer and reader.
pub struct PostgresLedger {
    pub store: PostgresStore,
    pub reader: LedgerReader,
    /// The head the store opened at: projections are rebuilt up to it, and the writer
    /// takes in everything after it as foreign appends.
    pub head: Head,
    /// The opening lock, held by this session until it ends ([`PostgresLedger::opened`], or
    /// dropped): a node starting meanwhile waits, then finds what this one bootstrapped.
    pub opening: Option<PgConnection>,
}

fn bytes32(bytes: Vec<u8>, position: u64, what: &str) -> Result<[u8; 32], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupt {
        position,
        reason: format!("{what} is not 32 bytes"),
    })
}

/// A statement written with `?` placeholders (the dialect read models share) in
/// PostgreSQL's: `$1`, `$2`, …; and SQLite's `INSERT OR FAIL`, which is PostgreSQL's plain
/// INSERT (a conflict fails the statement and the transaction).
fn numbered(sql: &str) -> String {
    let sql = sql
        .strip_prefix("INSERT OR FAIL ")
        .map_or(Cow::Borrowed(sql), |rest| {
            Cow::Owned(format!("INSERT {rest}"))
        });
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

fn bind_value(args: &mut PgArguments, value: &Value) -> Result<(), StoreError> {
    match value {
        Value::Null => args.add(Option::<i64>::None),
        Value::Int(v) => args.add(*v),
        Value::Text(v) => args.add(v.as_str()),
    }
    .map_err(storage)
}

async fn read_head(conn: &mut PgConnection) -> Result<Head, StoreError> {
    let row: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1")
            .fetch_optional(conn)
            .await
            .map_err(storage)?;
    match row {
        None => Ok(Head::default()),
        Some((position, hash)) => Ok(Head {
            position: position as u64,
            hash: bytes32(hash, position as u64, "hash")?,
        }),
    }
}

/// The trail tree's stored hashes at `level` with indexes in `range`, in order.
async fn read_stored_hashes(
    conn: &mut PgConnection,
    level: u8,
    range: std::ops::Range<u64>,
) -> Result<Vec<[u8; 32]>, StoreError> {
    let rows: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT hash FROM trail_hashes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
    )
    .bind(level as i64)
    .bind(range.start as i64)
    .bind(range.end as i64)
    .fetch_all(conn)
    .await
    .map_err(storage)?;
    rows.into_iter()
        .map(|h| bytes32(h, range.start + 1, "a stored tree hash"))
        .collect()
}

/// The frontier of the stored tree of `size` leaves.
async fn load_frontier(conn: &mut PgConnection, size: u64) -> Result<Frontier, StoreError> {
    let mut stored = Vec::new();
    for (level, range) in super::frontier_needs(size) {
        stored.push(read_stored_hashes(&mut *conn, level, range).await?);
    }
    super::frontier_from(size, stored)
}

/// Announcements of new heads from every node, as a watch (the newest position seen).
/// PgListener re-connects by itself; the poll covers what was announced meanwhile.
fn listen_forever(pool: PgPool, announced: watch::Sender<u64>) {
    tokio::spawn(async move {
        loop {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot LISTEN for other nodes' appends; retrying");
                    tokio::time::sleep(TAIL_POLL).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen(CHANNEL).await {
                tracing::warn!(error = %e, "LISTEN failed; retrying");
                tokio::time::sleep(TAIL_POLL).await;
                continue;
            }
            loop {
                let polled = async {
                    let mut conn = pool.acquire().await.map_err(storage)?;
                    read_head(&mut conn).await
                };
                match tokio::time::timeout(TAIL_POLL, listener.recv()).await {
                    Ok(Ok(note)) => {
                        if let Ok(position) = note.payload().parse::<u64>() {
                            announced.send_if_modified(|seen| {
                                let newer = position > *seen;
                                *seen = (*seen).max(position);
                                newer
                            });
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "the LISTEN connection failed; re-making it");
                        break;
                    }
                    Err(_) => {
                        if let Ok(head) = polled.await {
                            announced.send_if_modified(|seen| {
                                let newer = head.position > *seen;
                                *seen = (*seen).max(head.position);
                                newer
                            });
                        }
                    }
                }
                if announced.is_closed() {
                    return;
                }
            }
        }
    });
}

impl PostgresLedger {
    /// Connect to `url`, migrate (once per database: sqlx's migrator locks), bring these
    /// read models up to the head, and hold the opening lock until `opening` is dropped.
    pub async fn open(
        url: &str,
        read_models: Vec<Arc<dyn ReadModel>>,
    ) -> Result<PostgresLedger, StoreError> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| StoreError::Storage(format!("database {}: {e}", redacted(url))))?;
        // Each node's connections say which node they are: `node_count` counts them.
        let node = format!("{NODE_APPLICATION_PREFIX}{}", uuid::Uuid::new_v4().simple());
        let options = options.application_name(&node);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Storage(format!("database {}: {e}", redacted(url))))?;
        // A connection of its own, not the pool's: a session lock lasts as long as the session.
        let mut opening = pool.acquire().await.map_err(storage)?.detach();
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(OPEN_LOCK)
            .execute(&mut opening)
            .await
            .map_err(storage)?;
        MIGRATOR.run(&pool).await.map_err(storage)?;
        let (appended, rx) = watch::channel(0);
        let (announce, announced) = watch::channel(0);
        listen_forever(pool.clone(), announce);
        let mut store = PostgresStore {
            pool: pool.clone(),
            head: Head::default(),
            streams: HashMap::new(),
            tree: Frontier::default(),
            read_models: Vec::new(),
            appended,
            announced,
            faults: Arc::default(),
            foreign: Foreign::default(),
            lock_stats: LockStats::default(),
        };
        for model in read_models {
            if store.checkpoint(model.name()).await? != Some(store.current_head().await?.position) {
                tracing::info!(
                    model = model.name(),
                    "read model is not at the log's head; rebuilding it"
                );
                store.rebuild(model.as_ref(), &mut |_, _| {}).await?;
            }
            store.read_models.push(model);
        }
        let mut conn = pool.acquire().await.map_err(storage)?;
        let head = read_head(&mut conn).await?;
        store.tree = load_frontier(&mut conn, head.position).await?;
        store.head = head;
        store.appended.send_replace(head.position);
        Ok(PostgresLedger {
            store,
            reader: LedgerReader::Postgres(PostgresReader {
                pool,
                appended: rx,
                tiles: Default::default(),
            }),
            head,
            opening: Some(opening),
        })
    }

    /// Opening is over: let the next node open.
    pub async fn opened(&mut self) {
        if let Some(conn) = self.opening.take() {
            use sqlx::Connection as _;
            let _ = conn.close().await;
        }
    }

    /// Whether the database answers within `timeout` (`keyledger config check`): one
    /// connection, `SELECT 1`, nothing read or written. The error never shows the password.
    pub async fn check_reachable(url: &str, timeout: std::time::Duration) -> Result<(), String> {
        use sqlx::Connection as _;
        let attempt = async {
            let mut connection = sqlx::PgConnection::connect(url).await?;
            sqlx::query("SELECT 1").execute(&mut connection).await?;
            connection.close().await
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("database {}: {e}", redacted(url))),
            Err(_) => Err(format!(
                "database {}: no answer within {} s",
                redacted(url),
                timeout.as_secs()
            )),
        }
    }

    /// Connect for reading only (offline tools); nothing is written or migrated.
    pub async fn open_read_only(url: &str) -> Result<LedgerReader, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect(url)
            .await
            .map_err(|e| StoreError::Storage(format!("database {}: {e}", redacted(url))))?;
        // Nothing appends through this process: the sender is dropped and tailing polls.
        let (_, rx) = watch::channel(0);
        Ok(LedgerReader::Postgres(PostgresReader {
            pool,
            appended: rx,
            tiles: Default::default(),
        }))
    }
}

/// A row of `read_all` with the columns a rebuild folds.
struct FoldRow {
    position: i64,
    stream: Option<String>,
    event_name: String,
    event_id: Option<String>,
    time_ns: Option<i64>,
    keys: Option<String>,
    error_code: Option<String>,
    account: Option<String>,
    principal: Option<String>,
    data: Option<Vec<u8>>,
}

impl PostgresStore {
    /// Switches for fault-injection tests.
    pub fn faults(&self) -> Arc<Faults> {
        self.faults.clone()
    }

    async fn current_head(&self) -> Result<Head, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(storage)?;
        read_head(&mut conn).await
    }

    async fn checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let position: Option<i64> =
            sqlx::query_scalar("SELECT position FROM read_model_checkpoints WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(storage)?;
        Ok(position.map(|p| p as u64))
    }

    /// Empty `model`'s tables and fold the whole log into them again, in one transaction
    /// under the append lock (no node appends meanwhile). Returns the events folded.
    pub async fn rebuild(
        &mut self,
        model: &dyn ReadModel,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(storage)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(APPEND_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
        let total = read_head(&mut tx).await?.position;
        for table in model.tables() {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await
                .map_err(storage)?;
        }
        let ColumnNeeds { event_id, caller } = model.column_needs();
        let needs = model.json_needs();
        let sql = format!(
            "SELECT position, stream, event_name, {}, time_ns, keys, error_code, {}, \
             CASE WHEN {} THEN data END AS data FROM events \
             WHERE position > $1 ORDER BY position LIMIT $2",
            if event_id {
                "event_id"
            } else {
                "NULL AS event_id"
            },
            if caller {
                "account, principal"
            } else {
                "NULL AS account, NULL AS principal"
            },
            needs.sql_condition(),
        );
        let mut after = 0u64;
        loop {
            let rows: Vec<FoldRow> = sqlx::query(&sql)
                .bind(after as i64)
                .bind(PAGE as i64 / 4)
                .fetch_all(&mut *tx)
                .await
                .map_err(storage)?
                .into_iter()
                .map(|row| {
                    Ok(FoldRow {
                        position: row.try_get(0).map_err(storage)?,
                        stream: row.try_get(1).map_err(storage)?,
                        event_name: row.try_get(2).map_err(storage)?,
                        event_id: row.try_get(3).map_err(storage)?,
                        time_ns: row.try_get(4).map_err(storage)?,
                        keys: row.try_get(5).map_err(storage)?,
                        error_code: row.try_get(6).map_err(storage)?,
                        account: row.try_get(7).map_err(storage)?,
                        principal: row.try_get(8).map_err(storage)?,
                        data: row.try_get(9).map_err(storage)?,
                    })
                })
                .collect::<Result<_, StoreError>>()?;
            let Some(last) = rows.last().map(|r| r.position as u64) else {
                break;
            };
            let columns: Vec<EventColumns<'_>> = rows
                .iter()
                .map(|r| EventColumns {
                    position: r.position as u64,
                    stream: r.stream.as_deref(),
                    event_name: &r.event_name,
                    event_id: r.event_id.as_deref().unwrap_or(""),
                    time_ns: r.time_ns.unwrap_or(0),
                    keys: r.keys.as_deref().unwrap_or(""),
                    error_code: r.error_code.as_deref(),
                    account: r.account.as_deref(),
                    principal: r.principal.as_deref(),
                    data: r.data.as_deref().unwrap_or(b""),
                    record: None,
                })
                .collect();
            let mut statements = Statements::default();
            model.apply(&columns, &mut statements);
            run_statements(&mut tx, &statements).await?;
            after = last;
            progress(after, total);
        }
        if after != total {
            return Err(StoreError::Corrupt {
                position: after + 1,
                reason: format!("a rebuild read {after} events of {total}"),
            });
        }
        sqlx::query(&numbered(super::sql::CHECKPOINT_SQL))
            .bind(model.name())
            .bind(after as i64)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        Ok(after)
    }

    /// Take in what other nodes appended between the cached head and `head` (the database's
    /// now): their leaves join the tree, their lifecycle events the stream versions and
    /// [`Foreign`], with the shredding keys of the keys those events name.
    async fn absorb(&mut self, conn: &mut PgConnection, head: Head) -> Result<(), StoreError> {
        let from = self.head.position;
        if head.position < from {
            return Err(StoreError::Corrupt {
                position: head.position,
                reason: format!("the log shrank from {from} to {} events", head.position),
            });
        }
        let leaves = read_stored_hashes(&mut *conn, 0, from..head.position).await?;
        if leaves.len() as u64 != head.position - from {
            return Err(StoreError::Corrupt {
                position: from + 1,
                reason: "another node's events have no trail hashes".into(),
            });
        }
        let mut scratch = Vec::new();
        for leaf in leaves {
            self.tree.push(leaf, &mut scratch);
        }
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE position > $1 AND position <= $2 \
             AND stream IS NOT NULL ORDER BY position"
        ))
        .bind(from as i64)
        .bind(head.position as i64)
        .fetch_all(&mut *conn)
        .await
        .map_err(storage)?;
        let mut keys: Vec<String> = Vec::new();
        for row in rows {
            let event = PostgresReader::stored_event(row)?;
            if let (Some(stream), Some(version)) = (&event.stream, event.stream_version) {
                self.streams.insert(stream.clone(), version);
            }
            if let Some(k) = &event.keys {
                keys.extend(k.split(' ').map(str::to_owned));
            }
            // The projections' fact. The log itself holds any JSON (the store does not judge
            // envelopes; `verify` and the start-up check do), so one that is not an envelope
            // is passed on without a fact.
            let lifecycle = match Envelope::decode(&event.data) {
                Ok(envelope) => envelope.lifecycle().map(|e| (e.clone(), envelope.time)),
                Err(reason) => {
                    tracing::warn!(position = event.position, %reason, "another node's event is not an envelope");
                    None
                }
            };
            self.foreign.events.push((
                event.position,
                NewEvent {
                    stream: event.stream.clone().zip(event.stream_version),
                    event_name: event.event_name,
                    data: event.data,
                    columns: super::Columns {
                        event_id: event.event_id.unwrap_or_default(),
                        time_ns: event.time_ns.unwrap_or(0),
                        keys: event.keys,
                        error_code: event.error_code,
                        account: event.account,
                        principal: event.principal,
                        record: None,
                    },
                    lifecycle,
                },
            ));
        }
        if !keys.is_empty() {
            keys.sort();
            keys.dedup();
            let found: Vec<(String, Vec<u8>)> =
                sqlx::query_as("SELECT key_id, wrapped FROM shredding_keys WHERE key_id = ANY($1)")
                    .bind(&keys)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(storage)?;
            for (id, wrapped) in found {
                if let Some(key_id) = KeyId::parse(&id) {
                    self.foreign.shredding_keys.push((key_id, wrapped));
                }
            }
        }
        self.head = head;
        self.foreign.head = head.position;
        self.appended.send_replace(head.position);
        Ok(())
    }

    /// The streams these batches touch that the cache does not know, read from the database.
    async fn load_streams(
        &mut self,
        conn: &mut PgConnection,
        batches: &[&AppendBatch],
    ) -> Result<(), StoreError> {
        let mut missing: Vec<String> = batches
            .iter()
            .flat_map(|b| b.events.iter())
            .filter_map(|e| e.stream.as_ref().map(|(s, _)| s))
            .filter(|s| !self.streams.contains_key(*s))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort();
        missing.dedup();
        let found: Vec<(String, i64)> = sqlx::query_as(
            "SELECT stream, MAX(stream_version) FROM events WHERE stream = ANY($1) GROUP BY stream",
        )
        .bind(&missing)
        .fetch_all(&mut *conn)
        .await
        .map_err(storage)?;
        for stream in missing {
            self.streams.insert(stream, 0);
        }
        self.streams
            .extend(found.into_iter().map(|(s, v)| (s, v as u64)));
        Ok(())
    }

    /// Whether the event at `end.position` is ours (an append whose commit reported an
    /// error landed all the same).
    async fn landed(&self, end: Head) -> Result<bool, StoreError> {
        let hash: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT hash FROM events WHERE position = $1")
                .bind(end.position as i64)
                .fetch_optional(&self.pool)
                .await
                .map_err(storage)?;
        Ok(hash.as_deref() == Some(&end.hash[..]))
    }

    /// One attempt: `Ok(None)` when there was nothing to write.
    async fn try_append(
        &mut self,
        batches: &[&AppendBatch],
    ) -> Result<(Vec<AppendOutcome>, Option<Pending>), StoreError> {
        let mut tx = self.pool.begin().await.map_err(storage)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(APPEND_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
        let locked = std::time::Instant::now();
        let head = read_head(&mut tx).await?;
        if head != self.head {
            self.absorb(&mut tx, head).await?;
        }
        self.load_streams(&mut tx, batches).await?;
        let (mut outcomes, reached) = super::decide(batches, &self.streams);
        let rows = super::chain_rows(batches, &mut outcomes, head);
        let Some(last) = rows.last() else {
            return Ok((outcomes, None));
        };
        let end = Head {
            position: last.position,
            hash: last.hash,
        };
        let mut tree = self.tree.clone();
        let mut tree_rows: Vec<StoredHash> = Vec::with_capacity(rows.len() + 2);
        for row in &rows {
            tree.push(replay::trail::leaf_hash(row.data), &mut tree_rows);
        }
        let model_statements = super::fold_models(&self.read_models, &rows);

        // The events, as arrays: one statement whatever the group's size.
        sqlx::query(
            "INSERT INTO events (position, stream, stream_version, event_name, data, hash, \
             event_id, time_ns, keys, error_code, account, principal) \
             SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], \
             $5::BYTEA[], $6::BYTEA[], $7::TEXT[], $8::BIGINT[], $9::TEXT[], $10::TEXT[], \
             $11::TEXT[], $12::TEXT[])",
        )
        .bind(rows.iter().map(|r| r.position as i64).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.stream).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.stream_version.map(|v| v as i64))
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|r| r.event_name).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.data).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| &r.hash[..]).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.columns.event_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|r| r.columns.time_ns).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.columns.keys.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|r| r.columns.error_code.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|r| r.columns.account.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|r| r.columns.principal.as_deref())
                .collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await
        .map_err(storage)?;
        sqlx::query(
            "INSERT INTO trail_hashes (level, idx, hash) \
             SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BYTEA[])",
        )
        .bind(tree_rows.iter().map(|r| r.level as i64).collect::<Vec<_>>())
        .bind(tree_rows.iter().map(|r| r.index as i64).collect::<Vec<_>>())
        .bind(tree_rows.iter().map(|r| &r.hash[..]).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await
        .map_err(storage)?;

        let accepted = || {
            batches
                .iter()
                .zip(&outcomes)
                .filter(|(_, o)| o.is_ok())
                .map(|(b, _)| *b)
        };
        let (ids, wrapped): (Vec<String>, Vec<&[u8]>) = accepted()
            .flat_map(|b| b.shredding_keys.iter())
            .map(|(id, w)| (id.to_string(), w.as_slice()))
            .unzip();
        if !ids.is_empty() {
            sqlx::query(
                "INSERT INTO shredding_keys (key_id, wrapped) \
                 SELECT * FROM UNNEST($1::TEXT[], $2::BYTEA[])",
            )
            .bind(&ids)
            .bind(&wrapped)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
        }
        let shredded: Vec<String> = accepted()
            .flat_map(|b| b.shredded.iter())
            .map(KeyId::to_string)
            .collect();
        if !shredded.is_empty() {
            sqlx::query("DELETE FROM shredding_keys WHERE key_id = ANY($1)")
                .bind(&shredded)
                .execute(&mut *tx)
                .await
                .map_err(storage)?;
        }
        for statements in &model_statements {
            run_statements(&mut tx, statements).await?;
        }
        if !self.read_models.is_empty() {
            sqlx::query(
                "INSERT INTO read_model_checkpoints (name, position) \
                 SELECT name, $2 FROM UNNEST($1::TEXT[]) AS name \
                 ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            )
            .bind(
                self.read_models
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>(),
            )
            .bind(end.position as i64)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
        }
        // Delivered to listeners when (and only if) the transaction commits.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(end.position.to_string())
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
        let mut committed = tx.commit().await.map_err(storage);
        self.lock_stats.record(locked.elapsed(), rows.len());
        if committed.is_ok()
            && self
                .faults
                .report_failure_after_commit
                .load(Ordering::SeqCst)
        {
            committed = Err(StoreError::Storage(
                "injected: an error after the commit".into(),
            ));
        }
        let pending = Pending {
            end,
            tree,
            reached,
            error: committed.err(),
        };
        Ok((outcomes, Some(pending)))
    }
}

/// An append written but not yet known to have landed.
struct Pending {
    end: Head,
    tree: Frontier,
    reached: HashMap<String, u64>,
    error: Option<StoreError>,
}

async fn run_statements(
    conn: &mut PgConnection,
    statements: &Statements,
) -> Result<(), StoreError> {
    for statement in &statements.0 {
        let mut args = PgArguments::default();
        for value in &statement.params {
            bind_value(&mut args, value)?;
        }
        let sql = numbered(&statement.sql);
        // Not prepared once and kept: a value's type goes with the value (a NULL is bound as
        // BIGINT), and a kept statement would hold the types of its first call's values.
        sqlx::query_with(&sql, args)
            .persistent(false)
            .execute(&mut *conn)
            .await
            .map_err(|e| StoreError::Storage(format!("{e} in: {sql}")))?;
    }
    Ok(())
}

impl LedgerStore for PostgresStore {
    async fn head(&mut self) -> Result<Head, StoreError> {
        self.current_head().await
    }

    async fn write_checkpoint(
        &mut self,
        signer: &dyn CheckpointSigner,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        let size = self.tree.size();
        let newest: Option<i64> =
            sqlx::query_scalar("SELECT MAX(tree_size) FROM trail_checkpoints")
                .fetch_one(&self.pool)
                .await
                .map_err(storage)?;
        if size == 0 || newest.is_some_and(|n| n as u64 >= size) {
            return Ok(None);
        }
        let root = self.tree.root();
        let note = signer.sign(size, root).map_err(StoreError::Storage)?;
        let checkpoint = StoredCheckpoint::new(size, root, note);
        // Another node may sign the same size first: the tree is the same, so is the root.
        sqlx::query(
            "INSERT INTO trail_checkpoints (tree_size, root_hash, note, created_ns) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tree_size) DO NOTHING",
        )
        .bind(size as i64)
        .bind(&root[..])
        .bind(&checkpoint.note)
        .bind(checkpoint.time_ns)
        .execute(&self.pool)
        .await
        .map_err(storage)?;
        Ok(Some(checkpoint))
    }

    async fn append(&mut self, batches: &[&AppendBatch]) -> Result<Vec<AppendOutcome>, StoreError> {
        let mut last_error = None;
        for _ in 0..MAX_ATTEMPTS {
            let (outcomes, pending) = match self.try_append(batches).await {
                Ok(attempt) => attempt,
                // Nothing committed (the transaction rolled back when dropped).
                Err(e) => return Err(e),
            };
            let Some(pending) = pending else {
                return Ok(outcomes);
            };
            if let Some(e) = pending.error {
                // The commit's outcome is unknown: believe the database.
                if !self.landed(pending.end).await? {
                    tracing::warn!(error = %e, "append did not land; retrying");
                    last_error = Some(e);
                    continue;
                }
                tracing::warn!(error = %e, "commit reported a failure but landed; treating it as committed");
            }
            self.head = pending.end;
            self.tree = pending.tree;
            self.streams.extend(pending.reached);
            self.appended.send_replace(pending.end.position);
            return Ok(outcomes);
        }
        Err(last_error.unwrap_or_else(|| StoreError::Storage("appends kept failing".into())))
    }

    fn take_foreign(&mut self) -> Foreign {
        std::mem::take(&mut self.foreign)
    }

    async fn catch_up(&mut self) -> Result<(), StoreError> {
        // Our own commits are announced to us too: nothing to read for those.
        if *self.announced.borrow() <= self.head.position {
            return Ok(());
        }
        // No lock: positions are assigned and committed under it, so what is visible is
        // always a gap-free prefix of the log.
        let mut conn = self.pool.acquire().await.map_err(storage)?;
        let head = read_head(&mut conn).await?;
        if head.position > self.head.position {
            self.absorb(&mut conn, head).await?;
        }
        Ok(())
    }

    fn foreign_appends(&self) -> Option<watch::Receiver<u64>> {
        Some(self.announced.clone())
    }
}

super::reads::sql_reader!(PostgresReader, PgRow);

impl PostgresReader {
    /// Queries are written with `?`; PostgreSQL numbers its placeholders.
    fn sql(text: &str) -> Cow<'static, str> {
        Cow::Owned(numbered(text))
    }

    pub async fn head(&self) -> Result<Head, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(storage)?;
        read_head(&mut conn).await
    }

    pub async fn wait_beyond(&self, position: u64) -> Result<Head, StoreError> {
        let mut appended = self.appended.clone();
        loop {
            // Other nodes' appends reach this node's watch through its writer; look too.
            let head = self.head().await?;
            if head.position > position {
                return Ok(head);
            }
            let _ = tokio::time::timeout(TAIL_POLL / 10, appended.changed()).await;
        }
    }

    pub async fn stored_hashes(
        &self,
        level: u8,
        range: std::ops::Range<u64>,
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(storage)?;
        read_stored_hashes(&mut conn, level, range).await
    }

    /// The stored hashes of several ranges (a proof needs about one per tree level).
    pub async fn stored_hash_ranges(
        &self,
        ranges: &[(u8, std::ops::Range<u64>)],
    ) -> Result<replay::trail::Fetched, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(storage)?;
        let mut fetched = replay::trail::Fetched::default();
        for (level, range) in ranges {
            let hashes = read_stored_hashes(&mut conn, *level, range.clone()).await?;
            fetched
                .0
                .extend(range.clone().map(|i| (*level, i)).zip(hashes));
        }
        Ok(fetched)
    }
}
