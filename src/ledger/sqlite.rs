//! The embedded SQLite ledger (sqlx; WAL, `synchronous=FULL`): one file, zero set-up.
//!
//! Appends are one multi-statement SQL text per group commit (`BEGIN IMMEDIATE; INSERT …;
//! read-model statements; COMMIT`), so a batch costs one hand-off to SQLite's thread.
//! Positions, versions and hashes are computed from a cached head; the database refuses an
//! append that does not start at the next position or that finds a stream elsewhere than
//! expected (the primary key, the unique stream index, and the `append_guard` /
//! `stream_guard` checks of `migrations/sqlite/0002_seam.sql`), so a writer whose cache went
//! stale (another process appended) fails, re-reads the head and tries again — it can never
//! fork.

use super::sql::{
    ColumnNeeds, EventColumns, JsonNeeds, ReadModel, Statements, Value, CHECKPOINT_SQL,
};
use super::{
    storage, AppendBatch, AppendOutcome, CheckpointSigner, Head, LedgerReader, LedgerStore,
    StoreError, StoredCheckpoint,
};
use crate::domain::ids::KeyId;
use replay::trail::{Frontier, StoredHash};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Connection, Row as _, SqliteConnection, SqlitePool};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

mod queries;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Rows per INSERT statement (10 parameters each, far below SQLite's limit).
const ROWS_PER_STATEMENT: usize = 64;
/// Times an append is tried again after another writer moved the log under it.
const MAX_ATTEMPTS: usize = 32;
/// How often a tailing reader looks for appends made by another process.
const TAIL_POLL: Duration = Duration::from_millis(50);

fn options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: every commit is fsynced before it returns — the audit-first guarantee.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        // 4 KiB pages (SQLite's default). With only the events, 16 KiB pages meant fewer WAL
        // frames per commit; a commit also touches a page or so of each of several small
        // tables (the tree, the event-id index, the staged trail index, the read models),
        // each a whole frame, and 4 KiB pages write less (decision 0009). Takes effect when
        // the file is created; existing ledgers keep theirs.
        .page_size(PAGE_SIZE)
        .statement_cache_capacity(512)
}

/// The database page size, in bytes.
const PAGE_SIZE: u32 = 4 * 1024;

/// Faults a test can switch on in a real store.
#[derive(Debug, Default)]
pub struct Faults {
    /// Commit for real, then report an error (an fsync error after the data landed).
    pub report_failure_after_commit: AtomicBool,
    /// With the above: before the error is looked into, "another writer" appends one event.
    pub foreign_append_after_commit: AtomicBool,
}

/// The writer's connection, with the head it believes in.
pub struct SqliteStore {
    conn: SqliteConnection,
    /// Set while the WAL may still hold page images of destroyed shredding keys; the
    /// checkpointer retries a TRUNCATE checkpoint until one succeeds.
    truncate_pending: Arc<AtomicBool>,
    /// A cache: the database is the authority (see the module comment).
    head: Head,
    streams: HashMap<String, u64>,
    read_models: Vec<Arc<dyn ReadModel>>,
    appended: watch::Sender<u64>,
    faults: Arc<Faults>,
    /// The trail tree as of `head` (a cache like it: rebuilt from the database when stale).
    tree: Frontier,
    /// The ledger file (a rebuild reads it through connections of its own).
    path: std::path::PathBuf,
}

/// The read side: a pool of read-only connections and the writer's wake-ups.
#[derive(Clone)]
pub struct SqliteReader {
    pool: SqlitePool,
    appended: watch::Receiver<u64>,
    /// Stored tree hashes read by earlier proofs (shared by every clone).
    pub(super) tiles: Arc<super::tile_cache::TileCache>,
}

/// An opened ledger file: the single writer connection and the reader.
pub struct SqliteLedger {
    pub store: SqliteStore,
    pub reader: LedgerReader,
}

/// How often the background checkpointer folds the WAL into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);

impl SqliteLedger {
    /// Open (creating and migrating) the ledger file with these read models, which are
    /// brought up to the log's head before this returns. The writer connection never
    /// checkpoints itself — a checkpoint's fsync of the main file would stall every
    /// waiting request — so a background task does it; call within a Tokio runtime.
    pub async fn open(
        path: &Path,
        read_models: Vec<Arc<dyn ReadModel>>,
    ) -> Result<SqliteLedger, StoreError> {
        // Opening migrates, fills columns and catches read models up: one process at a time.
        // (sqlx's SQLite migrator takes no lock of its own; two first starts would race.)
        let _opening = lock_opening(path).await?;
        // Owner only, before SQLite creates the WAL and shared memory with the file's mode.
        super::files::private_ledger_file(path).map_err(|e| {
            StoreError::Storage(format!("cannot make the ledger file private: {e}"))
        })?;
        // secure_delete: a destroyed shredding key is overwritten, not left in a free page.
        let writer_options = options(path)
            .pragma("wal_autocheckpoint", "0")
            .pragma("secure_delete", "ON");
        let mut conn = SqliteConnection::connect_with(&writer_options)
            .await
            .map_err(storage)?;
        MIGRATOR.run_direct(&mut conn).await.map_err(storage)?;
        fill_missing_columns(&mut conn).await?;
        let tree = catch_up_tree(&mut conn).await?;
        // A short busy timeout: a checkpoint that must wait for readers gives up and
        // retries on the next tick instead of holding the writer up.
        let checkpointer = SqliteConnection::connect_with(
            &options(path).busy_timeout(Duration::from_millis(CHECKPOINT_BUSY_TIMEOUT_MS)),
        )
        .await
        .map_err(storage)?;
        let truncate_pending = Arc::new(AtomicBool::new(false));
        tokio::spawn(checkpoint_forever(checkpointer, truncate_pending.clone()));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options(path).read_only(true))
            .await
            .map_err(storage)?;
        let head = read_head(&mut conn).await?;
        let streams = read_stream_versions(&mut conn).await?;
        let (appended, rx) = watch::channel(head.position);
        let mut store = SqliteStore {
            conn,
            truncate_pending,
            head,
            streams,
            read_models: Vec::new(),
            appended,
            faults: Arc::default(),
            tree,
            path: path.to_owned(),
        };
        for model in read_models {
            // A model that is not exactly at the head (new, or behind after a crash of an
            // older build) is rebuilt, so it is never served ahead of or behind the log.
            if store.checkpoint(model.name()).await? != Some(head.position) {
                tracing::info!(
                    model = model.name(),
                    "read model is not at the log's head; rebuilding it"
                );
                store.rebuild(model.as_ref(), &mut |_, _| {}).await?;
            }
            store.read_models.push(model);
        }
        Ok(SqliteLedger {
            store,
            reader: LedgerReader::Sqlite(SqliteReader {
                pool,
                appended: rx,
                tiles: Default::default(),
            }),
        })
    }

    /// Open an existing ledger file for reading only (offline tools); nothing is written.
    pub async fn open_read_only(path: &Path) -> Result<LedgerReader, StoreError> {
        if !path.exists() {
            return Err(StoreError::Storage(format!(
                "{} does not exist",
                path.display()
            )));
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(SqliteConnectOptions::new().filename(path).read_only(true))
            .await
            .map_err(storage)?;
        let position = read_head(&pool).await?.position;
        // Nothing appends through this process: the sender is dropped and tailing polls.
        let (_, rx) = watch::channel(position);
        Ok(LedgerReader::Sqlite(SqliteReader {
            pool,
            appended: rx,
            tiles: Default::default(),
        }))
    }
}

/// An exclusive lock on `<ledger>.open-lock`, released when dropped.
async fn lock_opening(path: &Path) -> Result<std::fs::File, StoreError> {
    let lock_path = path.with_extension("open-lock");
    tokio::task::spawn_blocking(move || {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&lock_path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(storage)?
    .map_err(|e| StoreError::Storage(format!("cannot lock the ledger for opening: {e}")))
}

/// WAL frames (pages) beyond which the checkpointer makes the writer start the WAL over:
/// 32 MiB. Under continuous writes a PASSIVE checkpoint never catches up with the
/// writer, so without this the WAL (and its index) would grow without bound.
const WAL_RESTART_FRAMES: i64 = 32 * 1024 * 1024 / PAGE_SIZE as i64;

/// Busy timeout of the checkpointer's connection, in milliseconds.
const CHECKPOINT_BUSY_TIMEOUT_MS: u64 = 50;

/// `PRAGMA wal_checkpoint(TRUNCATE)`; true when it completed (SQLite reports a checkpoint
/// blocked by a reader in its result row, not as an error).
async fn truncate_wal(conn: &mut SqliteConnection) -> bool {
    match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(conn)
        .await
    {
        Ok((busy, _, _)) => busy == 0,
        Err(e) => {
            tracing::warn!(error = %e, "WAL truncation failed");
            false
        }
    }
}

async fn checkpoint_forever(mut conn: SqliteConnection, truncate_pending: Arc<AtomicBool>) {
    let mut ticks = tokio::time::interval(CHECKPOINT_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if truncate_pending.load(Ordering::SeqCst) && truncate_wal(&mut conn).await {
            truncate_pending.store(false, Ordering::SeqCst);
            continue;
        }
        // PASSIVE: copy what it can without blocking the writer or readers.
        let frames: Result<(i64, i64, i64), _> = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&mut conn)
            .await;
        match frames {
            Ok((_, log, _)) if log > WAL_RESTART_FRAMES => {
                // Right after a PASSIVE pass little is left to copy, so the writer waits at most
                // for that; a reader in the way makes it give up after a short busy timeout.
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
                    .execute(&mut conn)
                    .await
                {
                    tracing::warn!(error = %e, "WAL restart checkpoint failed; will retry");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; will retry"),
        }
    }
}

/// Ledgers written before the seam have no event_id/time_ns/keys/error_code, and ledgers
/// written before billing no account/principal: derive them from the hashed JSON once, at
/// the first start after the migration that added them (the columns are an index; the JSON
/// stays untouched). Idempotent, so a backfill cut short by a crash simply runs again.
async fn fill_missing_columns(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    const MARKERS: &str = "('columns_backfill', 'caller_columns_backfill')";
    let pending: Option<String> = sqlx::query_scalar(&format!(
        "SELECT value FROM ledger_meta WHERE key IN {MARKERS} LIMIT 1"
    ))
    .fetch_optional(&mut *conn)
    .await
    .map_err(storage)?;
    if pending.is_none() {
        return Ok(());
    }
    let mut after = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT position, data FROM events WHERE position > ? ORDER BY position LIMIT 10000",
        )
        .bind(after)
        .fetch_all(&mut *conn)
        .await
        .map_err(storage)?;
        let Some(last) = rows.last() else {
            sqlx::query(&format!("DELETE FROM ledger_meta WHERE key IN {MARKERS}"))
                .execute(&mut *conn)
                .await
                .map_err(storage)?;
            return Ok(());
        };
        after = last.try_get("position").map_err(storage)?;
        in_transaction(conn, async |tx| {
            for row in rows {
                let position: i64 = row.try_get("position").map_err(storage)?;
                let data: Vec<u8> = row.try_get("data").map_err(storage)?;
                let columns =
                    replay::columns::derive(&data).map_err(|reason| StoreError::Corrupt {
                        position: position as u64,
                        reason,
                    })?;
                sqlx::query(
                    "UPDATE events SET event_id = ?, time_ns = ?, keys = ?, error_code = ?, \
                     account = ?, principal = ? WHERE position = ?",
                )
                .bind(columns.event_id.as_ref())
                .bind(columns.time_ns)
                .bind(columns.keys)
                .bind(columns.error_code.as_deref())
                .bind(columns.account.as_deref())
                .bind(columns.principal.as_deref())
                .bind(position)
                .execute(&mut *tx)
                .await
                .map_err(storage)?;
            }
            Ok(())
        })
        .await?;
    }
}

/// Run `work` between `BEGIN IMMEDIATE` and `COMMIT` on `conn`, rolling back if it fails.
/// (Raw statements rather than sqlx's `Transaction`, whose borrow does not stay `Send`.)
async fn in_transaction<T>(
    conn: &mut SqliteConnection,
    work: impl AsyncFnOnce(&mut SqliteConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *conn)
        .await
        .map_err(storage)?;
    match work(&mut *conn).await {
        Ok(value) => {
            sqlx::query("COMMIT")
                .execute(&mut *conn)
                .await
                .map_err(storage)?;
            Ok(value)
        }
        Err(e) => {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            Err(e)
        }
    }
}

fn bind_value(args: &mut SqliteArguments<'_>, value: &Value) -> Result<(), StoreError> {
    use sqlx::Arguments as _;
    match value {
        Value::Null => args.add(Option::<i64>::None),
        Value::Int(v) => args.add(*v),
        Value::Text(v) => args.add(v.clone()),
    }
    .map_err(storage)
}

impl SqliteStore {
    /// Switches for fault-injection tests.
    pub fn faults(&self) -> Arc<Faults> {
        self.faults.clone()
    }

    async fn checkpoint(&mut self, name: &str) -> Result<Option<u64>, StoreError> {
        let position: Option<i64> =
            sqlx::query_scalar("SELECT position FROM read_model_checkpoints WHERE name = ?")
                .bind(name)
                .fetch_optional(&mut self.conn)
                .await
                .map_err(storage)?;
        Ok(position.map(|p| p as u64))
    }

    /// Empty `model`'s tables and fold the whole log into them again, in one transaction,
    /// calling `progress(done, total)` as it goes. Returns the number of events folded.
    pub async fn rebuild(
        &mut self,
        model: &dyn ReadModel,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<u64, StoreError> {
        // Two read-only connections pack alternate chunks of the log while this task folds
        // and writes: SQLite's packing of the columns, not the fold, bounds a rebuild, and
        // each connection works on a thread of its own. They read the events, which the
        // rebuild's transaction does not change, through a memory map (no copy of a page).
        let reader_options = SqliteConnectOptions::new()
            .filename(&self.path)
            .read_only(true)
            .pragma("mmap_size", "17179869184");
        let mut readers = [
            SqliteConnection::connect_with(&reader_options)
                .await
                .map_err(storage)?,
            SqliteConnection::connect_with(&reader_options)
                .await
                .map_err(storage)?,
        ];
        in_transaction(&mut self.conn, async |tx| {
            let total = read_head(&mut *tx).await?.position;
            for table in model.tables() {
                sqlx::query(&format!("DELETE FROM {table}"))
                    .execute(&mut *tx)
                    .await
                    .map_err(storage)?;
            }
            // Thousands of events' columns per result row: per-row hand-offs from SQLite's
            // thread, not SQLite's scan, are what bound a row-by-row read.
            // A model that reads the JSON gets it packed too, in smaller chunks.
            let needs = model.json_needs();
            let with_data = needs != JsonNeeds::None;
            let wanted = model.column_needs();
            let sql = packed_sql(wanted, &needs);
            let (chunk, format) = match needs {
                JsonNeeds::None => (REBUILD_CHUNK, PACKED_FORMAT),
                JsonNeeds::All => (REBUILD_DATA_CHUNK, PACKED_WITH_DATA_FORMAT),
                // Most events' JSON is left out: chunks as large as with columns alone.
                JsonNeeds::Some { .. } => (REBUILD_CHUNK, PACKED_WITH_DATA_FORMAT),
            };
            let chunk = chunk as u64;
            // The chunk of positions `after + 1 ..= after + chunk` (the log has no gaps, and
            // none past the head this transaction read).
            let packed = async |conn: &mut SqliteConnection,
                                after: u64|
                   -> Result<Option<String>, StoreError> {
                if after >= total {
                    return Ok(None);
                }
                sqlx::query_scalar(&sql)
                    .bind(after as i64)
                    .bind((after + chunk).min(total) as i64)
                    .bind(format)
                    .fetch_one(conn)
                    .await
                    .map_err(storage)
            };
            let fold = async |tx: &mut SqliteConnection,
                              text: Option<String>,
                              after: u64|
                   -> Result<u64, StoreError> {
                let Some(text) = text else { return Ok(after) };
                let columns = unpack_columns(&text, after, with_data, wanted.event_id)?;
                let Some(last) = columns.last().map(|c| c.position) else {
                    return Ok(after);
                };
                let mut statements = Statements::default();
                model.apply(&columns, &mut statements);
                if !statements.is_empty() {
                    // One multi-statement text per chunk: one hand-off, not one per statement.
                    let mut sql = String::new();
                    let mut args = SqliteArguments::default();
                    for statement in &statements.0 {
                        sql.push_str(&statement.sql);
                        sql.push(';');
                        for value in &statement.params {
                            bind_value(&mut args, value)?;
                        }
                    }
                    sqlx::query_with(&sql, args)
                        .persistent(false)
                        .execute(&mut *tx)
                        .await
                        .map_err(storage)?;
                }
                Ok(last)
            };
            let [first, second] = &mut readers;
            let mut after = 0u64;
            let (mut a, mut b) =
                futures_util::future::join(packed(first, 0), packed(second, chunk)).await;
            loop {
                let (text_a, text_b) = (a?, b?);
                if text_a.is_none() {
                    break;
                }
                // The next two chunks are packed while these two are folded.
                let next = after + 2 * chunk;
                let (next_a, next_b, folded) = futures_util::future::join3(
                    packed(first, next),
                    packed(second, next + chunk),
                    async {
                        let mid = fold(&mut *tx, text_a, after).await?;
                        fold(&mut *tx, text_b, mid).await
                    },
                )
                .await;
                after = folded?;
                progress(after, total);
                (a, b) = (next_a, next_b);
            }
            if after != total {
                return Err(StoreError::Corrupt {
                    position: after + 1,
                    reason: format!("a rebuild read {after} events of {total}"),
                });
            }
            sqlx::query(CHECKPOINT_SQL)
                .bind(model.name())
                .bind(after as i64)
                .execute(&mut *tx)
                .await
                .map_err(storage)?;
            Ok(after)
        })
        .await
    }

    /// Re-read from the database what the cache holds about these batches.
    async fn refresh(&mut self, batches: &[&AppendBatch]) -> Result<(), StoreError> {
        self.head = read_head(&mut self.conn).await?;
        if self.tree.size() != self.head.position {
            // Another writer appended: its events join the tree (their hashes, if it did
            // not store them) before ours.
            self.tree = catch_up_tree(&mut self.conn).await?;
        }
        for batch in batches {
            for event in &batch.events {
                if let Some((stream, _)) = &event.stream {
                    let version: Option<i64> = sqlx::query_scalar(
                        "SELECT MAX(stream_version) FROM events WHERE stream = ?",
                    )
                    .bind(stream)
                    .fetch_one(&mut self.conn)
                    .await
                    .map_err(storage)?;
                    self.streams
                        .insert(stream.clone(), version.unwrap_or(0) as u64);
                }
            }
        }
        Ok(())
    }
}

/// The whole batch as one multi-statement SQL text: `BEGIN; INSERT …; COMMIT`.
///
/// One sqlx call per batch means one hand-off to SQLite's worker thread instead of
/// one per statement; under load each hand-off waits for a core, and the
/// commit cycle bounds how fast the group commit can go.
fn batch_sql(
    rows: usize,
    tree_rows: usize,
    stream_guards: usize,
    shredding_keys: usize,
    shredded: usize,
    models: &[Statements],
) -> String {
    let mut sql = String::with_capacity(128 + rows * 26 + shredding_keys * 64);
    sql.push_str("BEGIN IMMEDIATE;INSERT INTO append_guard (next_position) VALUES (?);");
    for _ in 0..stream_guards {
        sql.push_str("INSERT INTO stream_guard (stream, next_version) VALUES (?,?);");
    }
    // OR FAIL (here and in the read models' inserts): a conflict still fails the batch, and
    // the whole transaction is rolled back, so SQLite need not keep a statement journal of
    // every page a multi-row INSERT changes (about 10% of a commit with the trail index).
    let mut left = rows;
    while left > 0 {
        let n = left.min(ROWS_PER_STATEMENT);
        sql.push_str(
            "INSERT OR FAIL INTO events (position, stream, stream_version, event_name, data, hash, \
             event_id, time_ns, keys, error_code, account, principal) VALUES ",
        );
        for i in 0..n {
            sql.push_str(if i == 0 {
                "(?,?,?,?,?,?,?,?,?,?,?,?)"
            } else {
                ",(?,?,?,?,?,?,?,?,?,?,?,?)"
            });
        }
        sql.push(';');
        left -= n;
    }
    push_tree_inserts(&mut sql, tree_rows, "INSERT OR FAIL");
    for _ in 0..shredding_keys {
        sql.push_str("INSERT INTO shredding_keys (key_id, wrapped) VALUES (?,?);");
    }
    for _ in 0..shredded {
        sql.push_str("DELETE FROM shredding_keys WHERE key_id = ?;");
    }
    for statements in models {
        for statement in &statements.0 {
            sql.push_str(&statement.sql);
            sql.push(';');
        }
        sql.push_str(CHECKPOINT_SQL);
        sql.push(';');
    }
    sql.push_str("COMMIT;");
    sql
}

/// Rows of stored tree hashes per INSERT statement (3 parameters each).
const TREE_ROWS_PER_STATEMENT: usize = 300;

/// `INSERT [OR IGNORE] INTO trail_hashes …` statements for `rows` rows, appended to `sql`.
fn push_tree_inserts(sql: &mut String, rows: usize, verb: &str) {
    let mut left = rows;
    while left > 0 {
        let n = left.min(TREE_ROWS_PER_STATEMENT);
        sql.push_str(verb);
        sql.push_str(" INTO trail_hashes (level, idx, hash) VALUES (?,?,?)");
        for _ in 1..n {
            sql.push_str(",(?,?,?)");
        }
        sql.push(';');
        left -= n;
    }
}

fn bind_tree_rows(args: &mut SqliteArguments<'_>, rows: &[StoredHash]) -> Result<(), StoreError> {
    use sqlx::Arguments as _;
    for row in rows {
        args.add(row.level as i64).map_err(storage)?;
        args.add(row.index as i64).map_err(storage)?;
        args.add(row.hash.to_vec()).map_err(storage)?;
    }
    Ok(())
}

/// The trail tree's stored hashes at `level` with indexes in `range`, in order (fewer
/// when some are missing).
async fn read_stored_hashes<'c>(
    executor: impl sqlx::SqliteExecutor<'c>,
    level: u8,
    range: std::ops::Range<u64>,
) -> Result<Vec<[u8; 32]>, StoreError> {
    let rows: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT hash FROM trail_hashes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx",
    )
    .bind(level as i64)
    .bind(range.start as i64)
    .bind(range.end as i64)
    .fetch_all(executor)
    .await
    .map_err(storage)?;
    rows.into_iter()
        .map(|h| {
            h.try_into().map_err(|_| StoreError::Corrupt {
                position: range.start + 1,
                reason: "a stored tree hash is not 32 bytes".into(),
            })
        })
        .collect()
}

/// The frontier of the stored tree of `size` leaves.
async fn load_frontier(conn: &mut SqliteConnection, size: u64) -> Result<Frontier, StoreError> {
    let mut stored = Vec::new();
    for (level, range) in super::frontier_needs(size) {
        stored.push(read_stored_hashes(&mut *conn, level, range).await?);
    }
    super::frontier_from(size, stored)
}

/// Bring the stored tree up to the log's head: events without stored hashes (a ledger from
/// before the tree, or another writer's appends) get them, in log order. The hashes are a
/// function of the events, so a row another writer stored first is the same row.
async fn catch_up_tree(conn: &mut SqliteConnection) -> Result<Frontier, StoreError> {
    let size: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(idx) + 1, 0) FROM trail_hashes WHERE level = 0")
            .fetch_one(&mut *conn)
            .await
            .map_err(storage)?;
    let mut tree = load_frontier(conn, size as u64).await?;
    loop {
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT position, data FROM events WHERE position > ? ORDER BY position LIMIT 8192",
        )
        .bind(tree.size() as i64)
        .fetch_all(&mut *conn)
        .await
        .map_err(storage)?;
        if rows.is_empty() {
            return Ok(tree);
        }
        tracing::info!(
            from = tree.size() + 1,
            events = rows.len(),
            "adding events to the trail tree"
        );
        let mut stored = Vec::new();
        for (position, data) in &rows {
            if *position as u64 != tree.size() + 1 {
                return Err(StoreError::Corrupt {
                    position: tree.size() + 1,
                    reason: format!("the log skips to position {position}"),
                });
            }
            tree.push(replay::trail::leaf_hash(data), &mut stored);
        }
        let mut sql = String::from("BEGIN IMMEDIATE;");
        push_tree_inserts(&mut sql, stored.len(), "INSERT OR IGNORE");
        sql.push_str("COMMIT;");
        let mut args = SqliteArguments::default();
        bind_tree_rows(&mut args, &stored)?;
        if let Err(e) = sqlx::query_with(&sql, args)
            .persistent(false)
            .execute(&mut *conn)
            .await
        {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            return Err(storage(e));
        }
    }
}

/// What a failed append transaction turned out to have done.
enum Settled {
    /// It committed despite the error (our last row is there with our hash).
    Landed,
    /// Nothing of it is there and nobody else wrote: a real failure.
    NothingLanded,
    /// Another writer appended since the cache was filled: re-read and decide again.
    LogMoved,
}

impl SqliteStore {
    /// After an error: roll back what may still be open, then believe the database.
    async fn settle_failure(&mut self, start: Head, end: Head) -> Result<Settled, StoreError> {
        if let Err(e) = sqlx::query("ROLLBACK").execute(&mut self.conn).await {
            // "No transaction is active": the failure came after COMMIT, or SQLite already
            // rolled back. Anything else leaves a transaction open in which our own rows
            // would look committed: fail closed rather than believe them.
            if !e.to_string().contains("no transaction is active") {
                return Err(storage(format!("cannot roll back a failed append: {e}")));
            }
        }
        let ours: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT hash FROM events WHERE position = ?")
                .bind(end.position as i64)
                .fetch_optional(&mut self.conn)
                .await
                .map_err(storage)?;
        if ours.as_deref() == Some(&end.hash[..]) {
            return Ok(Settled::Landed);
        }
        if read_head(&mut self.conn).await? == start {
            return Ok(Settled::NothingLanded);
        }
        Ok(Settled::LogMoved)
    }

    /// For [`Faults::foreign_append_after_commit`]: one event after `end`, as another
    /// process would append it.
    async fn append_foreign_event(&mut self, end: Head) -> Result<(), StoreError> {
        let position = end.position + 1;
        let data = br#"{"event_name":"Foreign"}"#;
        sqlx::query(
            "INSERT INTO events (position, event_name, data, hash) VALUES (?, 'Foreign', ?, ?)",
        )
        .bind(position as i64)
        .bind(&data[..])
        .bind(&replay::chain_hash(&end.hash, position, data)[..])
        .execute(&mut self.conn)
        .await
        .map_err(storage)?;
        Ok(())
    }
}

impl LedgerStore for SqliteStore {
    async fn head(&mut self) -> Result<Head, StoreError> {
        read_head(&mut self.conn).await
    }

    async fn write_checkpoint(
        &mut self,
        signer: &dyn CheckpointSigner,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        let size = self.tree.size();
        let newest: Option<i64> =
            sqlx::query_scalar("SELECT MAX(tree_size) FROM trail_checkpoints")
                .fetch_one(&mut self.conn)
                .await
                .map_err(storage)?;
        if size == 0 || newest.is_some_and(|n| n as u64 >= size) {
            return Ok(None);
        }
        let root = self.tree.root();
        let note = signer.sign(size, root).map_err(StoreError::Storage)?;
        let checkpoint = StoredCheckpoint::new(size, root, note);
        sqlx::query(
            "INSERT INTO trail_checkpoints (tree_size, root_hash, note, created_ns) VALUES (?, ?, ?, ?)",
        )
        .bind(size as i64)
        .bind(&root[..])
        .bind(&checkpoint.note)
        .bind(checkpoint.time_ns)
        .execute(&mut self.conn)
        .await
        .map_err(storage)?;
        Ok(Some(checkpoint))
    }

    async fn append(&mut self, batches: &[&AppendBatch]) -> Result<Vec<AppendOutcome>, StoreError> {
        let mut last_error = None;
        for _ in 0..MAX_ATTEMPTS {
            let (mut outcomes, mut reached) = super::decide(batches, &self.streams);
            if outcomes.iter().any(Result::is_err) {
                // A conflict against the cache might only mean the cache is behind: check
                // those streams against the database before refusing anyone.
                self.refresh(batches).await?;
                (outcomes, reached) = super::decide(batches, &self.streams);
            }

            // Chain the accepted events from the cached head.
            let start = self.head;
            let rows = super::chain_rows(batches, &mut outcomes, start);
            let Some(last) = rows.last() else {
                return Ok(outcomes);
            };
            let (position, hash) = (last.position, last.hash);
            let end = Head { position, hash };
            // The trail tree grows in the same transaction; kept only if it commits.
            let mut tree = self.tree.clone();
            let mut tree_rows = Vec::with_capacity(rows.len() + 2);
            for row in &rows {
                tree.push(replay::trail::leaf_hash(row.data), &mut tree_rows);
            }
            // Fold the rows into every read model, in the same transaction.
            let model_statements = super::fold_models(&self.read_models, &rows);

            let accepted = || {
                batches
                    .iter()
                    .zip(&outcomes)
                    .filter(|(_, o)| o.is_ok())
                    .map(|(b, _)| *b)
            };
            let shredding_keys: Vec<&(KeyId, Vec<u8>)> =
                accepted().flat_map(|b| b.shredding_keys.iter()).collect();
            let shredded: Vec<&KeyId> = accepted().flat_map(|b| b.shredded.iter()).collect();

            // Each stream's first version in this append: what the database must agree with.
            let mut stream_guards: Vec<(&str, u64)> = Vec::new();
            for row in &rows {
                if let (Some(stream), Some(version)) = (row.stream, row.stream_version) {
                    if !stream_guards.iter().any(|(s, _)| *s == stream) {
                        stream_guards.push((stream, version));
                    }
                }
            }
            let sql = batch_sql(
                rows.len(),
                tree_rows.len(),
                stream_guards.len(),
                shredding_keys.len(),
                shredded.len(),
                &model_statements,
            );
            let mut args = SqliteArguments::default();
            {
                use sqlx::Arguments as _;
                let add = |r: Result<(), sqlx::error::BoxDynError>| r.map_err(storage);
                add(args.add((start.position + 1) as i64))?;
                for (stream, version) in &stream_guards {
                    add(args.add(*stream))?;
                    add(args.add(*version as i64))?;
                }
                for row in &rows {
                    add(args.add(row.position as i64))?;
                    add(args.add(row.stream))?;
                    add(args.add(row.stream_version.map(|v| v as i64)))?;
                    add(args.add(row.event_name))?;
                    add(args.add(row.data))?;
                    add(args.add(&row.hash[..]))?;
                    add(args.add(row.columns.event_id.as_str()))?;
                    add(args.add(row.columns.time_ns))?;
                    add(args.add(row.columns.keys.as_deref()))?;
                    add(args.add(row.columns.error_code.as_deref()))?;
                    add(args.add(row.columns.account.as_deref()))?;
                    add(args.add(row.columns.principal.as_deref()))?;
                }
                bind_tree_rows(&mut args, &tree_rows)?;
                for (key_id, wrapped) in &shredding_keys {
                    add(args.add(key_id.to_string()))?;
                    add(args.add(wrapped.as_slice()))?;
                }
                for key_id in &shredded {
                    add(args.add(key_id.to_string()))?;
                }
            }
            for (model, statements) in self.read_models.iter().zip(&model_statements) {
                for statement in &statements.0 {
                    for value in &statement.params {
                        bind_value(&mut args, value)?;
                    }
                }
                use sqlx::Arguments as _;
                args.add(model.name()).map_err(storage)?;
                args.add(position as i64).map_err(storage)?;
            }
            // Cache the prepared statements of ordinary batch sizes only.
            let persistent = rows.len() <= ROWS_PER_STATEMENT;
            let mut result = sqlx::query_with(&sql, args)
                .persistent(persistent)
                .execute(&mut self.conn)
                .await
                .map(|_| ())
                .map_err(storage);
            if result.is_ok()
                && self
                    .faults
                    .report_failure_after_commit
                    .load(Ordering::SeqCst)
            {
                if self
                    .faults
                    .foreign_append_after_commit
                    .load(Ordering::SeqCst)
                {
                    self.append_foreign_event(end).await?;
                }
                result = Err(StoreError::Storage(
                    "injected: fsync failed after the commit".into(),
                ));
            }
            if let Err(e) = result {
                match self.settle_failure(start, end).await? {
                    Settled::Landed => {
                        tracing::warn!(error = %e, "commit reported a failure but landed; treating it as committed");
                    }
                    Settled::NothingLanded => return Err(e),
                    Settled::LogMoved => {
                        tracing::debug!(
                            cached = start.position,
                            "log moved under the writer; retrying"
                        );
                        self.refresh(batches).await?;
                        last_error = Some(e);
                        continue;
                    }
                }
            }
            self.head = end;
            self.tree = tree;
            self.streams.extend(reached);
            self.appended.send_replace(position);
            if !shredded.is_empty() {
                // Crypto-shredding: the WAL still holds page images with the destroyed shredding
                // keys; fold it into the main file (secure_delete zeroed them there) and truncate it.
                self.truncate_pending.store(true, Ordering::SeqCst);
                if truncate_wal(&mut self.conn).await {
                    self.truncate_pending.store(false, Ordering::SeqCst);
                } else {
                    tracing::warn!("WAL truncation after shredding was blocked by a reader; the checkpointer retries");
                }
            }
            return Ok(outcomes);
        }
        Err(last_error.unwrap_or_else(|| StoreError::Storage("the log kept moving".into())))
    }
}

/// The head as the database has it, through a connection or the reader pool.
async fn read_head<'c>(executor: impl sqlx::SqliteExecutor<'c>) -> Result<Head, StoreError> {
    let row = sqlx::query("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1")
        .fetch_optional(executor)
        .await
        .map_err(storage)?;
    head_of(row)
}

fn head_of(row: Option<SqliteRow>) -> Result<Head, StoreError> {
    let Some(row) = row else {
        return Ok(Head::default());
    };
    let position = row.try_get::<i64, _>("position").map_err(storage)? as u64;
    let hash: Vec<u8> = row.try_get("hash").map_err(storage)?;
    let hash = hash.try_into().map_err(|_| StoreError::Corrupt {
        position,
        reason: "hash is not 32 bytes".into(),
    })?;
    Ok(Head { position, hash })
}

async fn read_stream_versions(
    conn: &mut SqliteConnection,
) -> Result<HashMap<String, u64>, StoreError> {
    let rows = sqlx::query(
        "SELECT stream, MAX(stream_version) AS version FROM events WHERE stream IS NOT NULL GROUP BY stream",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(storage)?;
    rows.into_iter()
        .map(|row| {
            let stream: String = row.try_get("stream").map_err(storage)?;
            let version: i64 = row.try_get("version").map_err(storage)?;
            Ok((stream, version as u64))
        })
        .collect()
}

/// Events per packed chunk of a rebuild. Measured on 1M events (README): 65,536 spent a
/// sixth of a rebuild in `group_concat` copying its growing buffer; 16,384 was 20–40% faster;
/// 8,192 slower again (more statements per event).
const REBUILD_CHUNK: usize = 16_384;
/// Field and record separators of packed columns (ASCII US and RS: no id, name, stream or
/// error code the ledger writes contains them, and `unpack_columns` refuses any that does).
const FIELD: char = '\u{1f}';
const RECORD: char = '\u{1e}';

/// The read-model columns of the events at positions `?1 < position <= ?2`, packed into one
/// string (`?3` is [`PACKED_FORMAT`] or [`PACKED_WITH_DATA_FORMAT`]; SQLite's printf writes
/// NULL as an empty field, and a column the fold does not read is packed as `''`). The
/// aggregate follows the rowid scan's order in practice; `unpack_columns` refuses any chunk
/// whose positions are not consecutive, so a different order fails the rebuild — it can never
/// skip or repeat an event. With the JSON (all, or only the events the model reads), each
/// event's JSON is a tenth field (JSON text holds no raw control character, so no separator;
/// `unpack_columns` would refuse one).
fn packed_sql(columns: ColumnNeeds, json: &JsonNeeds) -> String {
    let event_id = if columns.event_id { "event_id" } else { "''" };
    let (account, principal) = if columns.caller {
        ("account", "principal")
    } else {
        ("''", "''")
    };
    let data = match json {
        JsonNeeds::None => String::new(),
        JsonNeeds::All => ", data".to_owned(),
        JsonNeeds::Some { .. } => {
            format!(", CASE WHEN {} THEN data ELSE '' END", json.sql_condition())
        }
    };
    format!(
        "SELECT group_concat(printf(?3, position, stream, event_name, {event_id}, time_ns, keys, \
         error_code, {account}, {principal}{data}), char(30)) FROM events \
         WHERE position > ?1 AND position <= ?2"
    )
}
const PACKED_FORMAT: &str = "%d\u{1f}%s\u{1f}%s\u{1f}%s\u{1f}%s\u{1f}%s\u{1f}%s\u{1f}%s\u{1f}%s";
/// Events per packed chunk when the JSON comes too (~1 KB each).
const REBUILD_DATA_CHUNK: usize = 4_096;
const PACKED_WITH_DATA_FORMAT: &str =
    "%d\u{1f}%s\u{1f}%s\u{1f}%s\u{1f}%s\u{1f}%s\u{1f}%s\u{1f}%s\u{1f}%s\u{1f}%s";

/// Split packed columns into events, checking they are the consecutive positions after `after`.
fn unpack_columns(
    packed: &str,
    after: u64,
    with_data: bool,
    with_event_id: bool,
) -> Result<Vec<EventColumns<'_>>, StoreError> {
    let mut out = Vec::with_capacity(REBUILD_CHUNK);
    for (i, record) in packed.split(RECORD).enumerate() {
        let expected = after + i as u64 + 1;
        let bad = |reason: &str| StoreError::Corrupt {
            position: expected,
            reason: format!("read-model columns: {reason}"),
        };
        let mut fields = record.split(FIELD);
        let mut next = || fields.next().ok_or_else(|| bad("too few fields"));
        let position: u64 = next()?.parse().map_err(|_| bad("position"))?;
        if position != expected {
            return Err(bad("positions are not consecutive"));
        }
        let stream = next()?;
        let event_name = next()?;
        let event_id = next()?;
        let time_ns = next()?;
        let keys = next()?;
        let error_code = next()?;
        let account = next()?;
        let principal = next()?;
        let data = if with_data { next()? } else { "" };
        if fields.next().is_some() {
            return Err(bad("a field holds a separator"));
        }
        if (with_event_id && event_id.is_empty()) || time_ns.is_empty() {
            return Err(bad("event_id or time_ns is empty"));
        }
        out.push(EventColumns {
            position,
            stream: (!stream.is_empty()).then_some(stream),
            event_name,
            event_id,
            time_ns: time_ns.parse().map_err(|_| bad("time_ns"))?,
            keys,
            error_code: (!error_code.is_empty()).then_some(error_code),
            account: (!account.is_empty()).then_some(account),
            principal: (!principal.is_empty()).then_some(principal),
            data: data.as_bytes(),
            record: None,
        });
    }
    Ok(out)
}

super::reads::sql_reader!(SqliteReader, SqliteRow);

impl SqliteReader {
    /// Queries are written in SQLite's placeholder syntax already.
    fn sql(text: &str) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(text)
    }

    pub async fn head(&self) -> Result<Head, StoreError> {
        read_head(&self.pool).await
    }

    pub async fn wait_beyond(&self, position: u64) -> Result<Head, StoreError> {
        let mut appended = self.appended.clone();
        loop {
            if *appended.borrow_and_update() > position {
                return self.head().await;
            }
            // Another process's appends never reach the watch: look at the file too.
            let head = self.head().await?;
            if head.position > position {
                return Ok(head);
            }
            let _ = tokio::time::timeout(TAIL_POLL, appended.changed()).await;
        }
    }

    pub async fn stored_hashes(
        &self,
        level: u8,
        range: std::ops::Range<u64>,
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        read_stored_hashes(&self.pool, level, range).await
    }

    /// The stored hashes of several ranges in one query, one row per range with its
    /// hashes packed (hex, in index order): sqlx hands rows over one by one, which cost
    /// more than the proof itself when a proof's few hundred hashes came as rows. A range
    /// with missing hashes comes back short, and the proof then fails as incomplete.
    pub async fn stored_hash_ranges(
        &self,
        ranges: &[(u8, std::ops::Range<u64>)],
    ) -> Result<replay::trail::Fetched, StoreError> {
        const PACKED: &str = "SELECT ?, ?, (SELECT group_concat(hex(hash), '') FROM \
             (SELECT hash FROM trail_hashes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx))";
        let mut fetched = replay::trail::Fetched::default();
        for chunk in ranges.chunks(64) {
            let sql = vec![PACKED; chunk.len()].join(" UNION ALL ");
            let mut query = sqlx::query_as::<_, (i64, i64, Option<String>)>(&sql);
            for (level, range) in chunk {
                let (level, start, end) = (*level as i64, range.start as i64, range.end as i64);
                query = query
                    .bind(level)
                    .bind(start)
                    .bind(level)
                    .bind(start)
                    .bind(end);
            }
            for (level, start, packed) in query.fetch_all(&self.pool).await.map_err(storage)? {
                let bytes = hex::decode(packed.unwrap_or_default()).map_err(storage)?;
                for (i, hash) in bytes.chunks_exact(32).enumerate() {
                    let hash: [u8; 32] = hash.try_into().expect("chunks of 32");
                    fetched
                        .0
                        .insert((level as u8, start as u64 + i as u64), hash);
                }
            }
        }
        Ok(fetched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_file_uses_wal_and_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = SqliteLedger::open(&dir.path().join("ledger.db"), vec![])
            .await
            .unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut ledger.store.conn)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut ledger.store.conn)
            .await
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
    }

    #[tokio::test]
    async fn the_guards_refuse_an_append_off_the_head_or_a_stream_off_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = SqliteLedger::open(&dir.path().join("ledger.db"), vec![])
            .await
            .unwrap();
        let conn = &mut ledger.store.conn;
        sqlx::raw_sql(
            "INSERT INTO events (position, stream, stream_version, event_name, data, hash) \
             VALUES (1, NULL, NULL, 'E', x'00', x'00'), (2, 'key/k', 1, 'E', x'00', x'00')",
        )
        .execute(&mut *conn)
        .await
        .unwrap();
        // (guard insert, whether the database accepts it) with the head at 2 and key/k at 1.
        let cases = [
            ("INSERT INTO append_guard VALUES (3)", true),
            ("INSERT INTO append_guard VALUES (2)", false),
            ("INSERT INTO append_guard VALUES (4)", false),
            ("INSERT INTO stream_guard VALUES ('key/k', 2)", true),
            ("INSERT INTO stream_guard VALUES ('key/new', 1)", true),
            ("INSERT INTO stream_guard VALUES ('key/k', 1)", false),
            ("INSERT INTO stream_guard VALUES ('key/k', 3)", false),
        ];
        for (sql, accepted) in cases {
            let outcome = sqlx::raw_sql(sql).execute(&mut *conn).await;
            assert_eq!(outcome.is_ok(), accepted, "{sql}: {outcome:?}");
            if let Err(e) = outcome {
                let why = if sql.contains("append_guard") {
                    "next position"
                } else {
                    "version the append expects"
                };
                assert!(e.to_string().contains(why), "{e}");
            }
        }
        // The views store nothing.
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM append_guard")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(n, 0);
    }

    fn usage_batch(text: &str) -> AppendBatch {
        let event_id = uuid::Uuid::now_v7();
        AppendBatch {
            events: vec![crate::ledger::NewEvent {
                stream: None,
                event_name: "Test".into(),
                data: format!(r#"{{"text":"{text}"}}"#).into_bytes(),
                columns: crate::ledger::Columns::new(
                    event_id,
                    time::OffsetDateTime::UNIX_EPOCH,
                    None,
                    None,
                ),
                lifecycle: None,
            }],
            ..AppendBatch::default()
        }
    }

    async fn tree_rows(conn: &mut SqliteConnection) -> Vec<(i64, i64, Vec<u8>)> {
        sqlx::query_as("SELECT level, idx, hash FROM trail_hashes ORDER BY level, idx")
            .fetch_all(conn)
            .await
            .unwrap()
    }

    /// The trail tree is derived data: stored hashes thrown away are rebuilt at open from the
    /// events alone, row for row the ones the appends wrote (replay determinism), and the
    /// store then appends on from them.
    #[tokio::test]
    async fn the_trail_tree_rebuilt_from_the_events_equals_the_one_appends_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let written = {
            let mut ledger = SqliteLedger::open(&path, vec![]).await.unwrap();
            for i in 0..300 {
                let batch = usage_batch(&format!("e{i}"));
                ledger.store.append(&[&batch]).await.unwrap();
            }
            let written = tree_rows(&mut ledger.store.conn).await;
            assert_eq!(written.len(), 301, "300 leaves and one level-8 node");
            sqlx::query("DELETE FROM trail_hashes")
                .execute(&mut ledger.store.conn)
                .await
                .unwrap();
            written
        };
        let mut ledger = SqliteLedger::open(&path, vec![]).await.unwrap();
        assert_eq!(tree_rows(&mut ledger.store.conn).await, written);
        let batch = usage_batch("after");
        ledger.store.append(&[&batch]).await.unwrap();
        let reader = ledger.reader.clone();
        let events = reader.read_all(0, 1000).await.unwrap();
        let mut frontier = Frontier::default();
        for e in &events {
            frontier.push(replay::trail::leaf_hash(&e.data), &mut Vec::new());
        }
        assert_eq!(
            reader
                .tree(replay::trail::Query::Root { size: 301 })
                .await
                .unwrap(),
            vec![frontier.root()]
        );
    }

    /// A commit that reported an error but landed, with another writer's event already
    /// behind it when the store looks: it counts as committed, and is not written again.
    #[tokio::test]
    async fn a_landed_commit_is_not_written_again_when_another_writer_followed_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = SqliteLedger::open(&dir.path().join("ledger.db"), vec![])
            .await
            .unwrap();
        let faults = ledger.store.faults();
        faults
            .report_failure_after_commit
            .store(true, Ordering::SeqCst);
        faults
            .foreign_append_after_commit
            .store(true, Ordering::SeqCst);
        let (a, b) = (usage_batch("a"), usage_batch("b"));
        let outcomes = ledger.store.append(&[&a, &b]).await.unwrap();
        assert_eq!(outcomes, vec![Ok(1..2), Ok(2..3)]);
        faults
            .report_failure_after_commit
            .store(false, Ordering::SeqCst);
        let outcomes = ledger.store.append(&[&usage_batch("c")]).await.unwrap();
        assert_eq!(outcomes, vec![Ok(4..5)], "after the foreign event at 3");
        let names: Vec<String> =
            sqlx::query_scalar("SELECT event_name FROM events ORDER BY position")
                .fetch_all(&mut ledger.store.conn)
                .await
                .unwrap();
        assert_eq!(names, ["Test", "Test", "Foreign", "Test"]);
    }
}
