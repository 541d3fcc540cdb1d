//! The embedded SQLite ledger (sqlx; WAL, `synchronous=FULL`): one file, zero set-up.

use super::{Heads, LedgerStore, Row, StoreError};
use crate::domain::ids::KeyId;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Row as _, SqliteConnection, SqlitePool};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Migrations, applied in order at start-up.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../../migrations/0001_ledger.sql"))];

/// Rows per INSERT statement (6 parameters each, far below SQLite's limit).
const ROWS_PER_STATEMENT: usize = 64;

fn storage(e: sqlx::Error) -> StoreError {
    StoreError::Storage(e.to_string())
}

fn options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: every commit is fsynced before it returns — the audit-first guarantee.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        // 16 KiB pages: a group-committed batch spans fewer pages, so fewer WAL frames
        // (and writes) per commit than with 4 KiB. Takes effect when the file is created.
        .page_size(PAGE_SIZE)
}

/// The database page size, in bytes.
const PAGE_SIZE: u32 = 16 * 1024;

/// The writer's connection. Readers use [`SqliteLedger::readers`].
pub struct SqliteStore {
    conn: SqliteConnection,
    /// Set while the WAL may still hold page images of destroyed shredding keys; the
    /// checkpointer retries a TRUNCATE checkpoint until one succeeds.
    truncate_pending: Arc<AtomicBool>,
}

/// An opened ledger file: the single writer connection and a pool for reads.
pub struct SqliteLedger {
    pub store: SqliteStore,
    pub readers: SqlitePool,
}

/// How often the background checkpointer folds the WAL into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);

impl SqliteLedger {
    /// Open (creating and migrating) the ledger file. The writer connection never
    /// checkpoints itself — a checkpoint's fsync of the main file would stall every
    /// waiting request — so a background task does it; call within a Tokio runtime.
    pub async fn open(path: &Path) -> Result<SqliteLedger, StoreError> {
        // secure_delete: a destroyed shredding key is overwritten, not left in a free page.
        let writer_options = options(path)
            .pragma("wal_autocheckpoint", "0")
            .pragma("secure_delete", "ON");
        let mut conn = SqliteConnection::connect_with(&writer_options)
            .await
            .map_err(storage)?;
        migrate(&mut conn).await?;
        // A short busy timeout: a checkpoint that must wait for readers gives up and
        // retries on the next tick instead of holding the writer up.
        let checkpointer = SqliteConnection::connect_with(
            &options(path).busy_timeout(Duration::from_millis(CHECKPOINT_BUSY_TIMEOUT_MS)),
        )
        .await
        .map_err(storage)?;
        let truncate_pending = Arc::new(AtomicBool::new(false));
        tokio::spawn(checkpoint_forever(checkpointer, truncate_pending.clone()));
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options(path).read_only(true))
            .await
            .map_err(storage)?;
        Ok(SqliteLedger {
            store: SqliteStore {
                conn,
                truncate_pending,
            },
            readers,
        })
    }
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

async fn migrate(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
        .execute(&mut *conn)
        .await
        .map_err(storage)?;
    for (version, sql) in MIGRATIONS {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = ?")
                .bind(version)
                .fetch_optional(&mut *conn)
                .await
                .map_err(storage)?;
        if applied.is_some() {
            continue;
        }
        let mut tx = conn.begin().await.map_err(storage)?;
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
        sqlx::query("INSERT INTO schema_migrations (version) VALUES (?)")
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
        tx.commit().await.map_err(storage)?;
    }
    Ok(())
}

/// The whole batch as one multi-statement SQL text: `BEGIN; INSERT …; COMMIT`.
///
/// One sqlx call per batch means one hand-off to SQLite's worker thread instead of
/// one per statement; under load each hand-off waits for a core, and the
/// commit cycle bounds how fast the group commit can go.
fn batch_sql(rows: usize, shredding_keys: usize, shredded: usize) -> String {
    let mut sql = String::with_capacity(40 + rows * 14 + shredding_keys * 64);
    sql.push_str("BEGIN IMMEDIATE;");
    let mut left = rows;
    while left > 0 {
        let n = left.min(ROWS_PER_STATEMENT);
        sql.push_str(
            "INSERT INTO events (position, stream, stream_version, event_name, data, hash) VALUES ",
        );
        for i in 0..n {
            sql.push_str(if i == 0 {
                "(?,?,?,?,?,?)"
            } else {
                ",(?,?,?,?,?,?)"
            });
        }
        sql.push(';');
        left -= n;
    }
    for _ in 0..shredding_keys {
        sql.push_str("INSERT INTO shredding_keys (key_id, wrapped) VALUES (?,?);");
    }
    for _ in 0..shredded {
        sql.push_str("DELETE FROM shredding_keys WHERE key_id = ?;");
    }
    sql.push_str("COMMIT;");
    sql
}

impl LedgerStore for SqliteStore {
    async fn heads(&mut self) -> Result<Heads, StoreError> {
        read_heads(&mut self.conn).await
    }

    async fn commit(
        &mut self,
        rows: &[Row<'_>],
        shredding_keys: &[(KeyId, Vec<u8>)],
        shredded: &[KeyId],
    ) -> Result<(), StoreError> {
        let sql = batch_sql(rows.len(), shredding_keys.len(), shredded.len());
        // Cache the prepared statements of ordinary batch sizes only.
        let mut query = sqlx::query(&sql).persistent(rows.len() <= ROWS_PER_STATEMENT);
        for row in rows {
            query = query
                .bind(row.position as i64)
                .bind(row.stream)
                .bind(row.stream_version.map(|v| v as i64))
                .bind(row.event_name)
                .bind(row.data)
                .bind(&row.hash[..]);
        }
        for (key_id, wrapped) in shredding_keys {
            query = query.bind(key_id.to_string()).bind(wrapped.as_slice());
        }
        for key_id in shredded {
            query = query.bind(key_id.to_string());
        }
        if let Err(e) = query.execute(&mut self.conn).await {
            // A statement failed inside the transaction: undo all of it.
            let _ = sqlx::query("ROLLBACK").execute(&mut self.conn).await;
            return Err(storage(e));
        }
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
        Ok(())
    }
}

async fn read_heads(conn: &mut SqliteConnection) -> Result<Heads, StoreError> {
    let mut heads = Heads::default();
    if let Some(row) =
        sqlx::query("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await
            .map_err(storage)?
    {
        let position: i64 = row.try_get("position").map_err(storage)?;
        let hash: Vec<u8> = row.try_get("hash").map_err(storage)?;
        heads.position = position as u64;
        heads.hash = hash.try_into().map_err(|_| StoreError::Corrupt {
            position: position as u64,
            reason: "hash is not 32 bytes".into(),
        })?;
    }
    let streams = sqlx::query(
        "SELECT stream, MAX(stream_version) AS version FROM events WHERE stream IS NOT NULL GROUP BY stream",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(storage)?;
    for row in streams {
        let stream: String = row.try_get("stream").map_err(storage)?;
        let version: i64 = row.try_get("version").map_err(storage)?;
        heads.streams.insert(stream, version as u64);
    }
    Ok(heads)
}

/// Lifecycle events in log order: what projections are rebuilt from at start-up.
pub async fn lifecycle_events(pool: &SqlitePool) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
    let rows =
        sqlx::query("SELECT position, data FROM events WHERE stream IS NOT NULL ORDER BY position")
            .fetch_all(pool)
            .await
            .map_err(storage)?;
    rows.into_iter()
        .map(|row| {
            let position: i64 = row.try_get("position").map_err(storage)?;
            let data: Vec<u8> = row.try_get("data").map_err(storage)?;
            Ok((position as u64, data))
        })
        .collect()
}

/// Every event's data from `after` on, in log order (tests and offline tools).
pub async fn events_after(
    pool: &SqlitePool,
    after: u64,
) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
    let rows =
        sqlx::query("SELECT position, data FROM events WHERE position > ? ORDER BY position")
            .bind(after as i64)
            .fetch_all(pool)
            .await
            .map_err(storage)?;
    rows.into_iter()
        .map(|row| {
            Ok((
                row.try_get::<i64, _>("position").map_err(storage)? as u64,
                row.try_get("data").map_err(storage)?,
            ))
        })
        .collect()
}

/// The wrapped shredding keys of every key not yet shredded.
pub async fn shredding_keys(pool: &SqlitePool) -> Result<Vec<(KeyId, Vec<u8>)>, StoreError> {
    let rows = sqlx::query("SELECT key_id, wrapped FROM shredding_keys")
        .fetch_all(pool)
        .await
        .map_err(storage)?;
    rows.into_iter()
        .map(|row| {
            let id: String = row.try_get("key_id").map_err(storage)?;
            let key_id = KeyId::parse(&id).ok_or_else(|| {
                StoreError::Storage(format!("shredding_keys holds an invalid key id {id:?}"))
            })?;
            Ok((key_id, row.try_get("wrapped").map_err(storage)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commit_is_read_back_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let mut ledger = SqliteLedger::open(&path).await.unwrap();
        assert_eq!(ledger.store.heads().await.unwrap(), Heads::default());
        let data: Vec<Vec<u8>> = (0..150)
            .map(|i| {
                let stream = if i % 10 == 0 {
                    format!(r#","stream":"key/k","stream_version":{}"#, i / 10 + 1)
                } else {
                    String::new()
                };
                format!(r#"{{"event_name":"E"{stream},"i":{i}}}"#).into_bytes()
            })
            .collect();
        let mut hash = replay::GENESIS_HASH;
        let rows: Vec<Row> = data
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let position = i as u64 + 1;
                hash = replay::chain_hash(&hash, position, d);
                Row {
                    position,
                    stream: (i % 10 == 0).then_some("key/k"),
                    stream_version: (i % 10 == 0).then_some(i as u64 / 10 + 1),
                    event_name: "E",
                    data: d,
                    hash,
                }
            })
            .collect();
        let key_id = KeyId::from_uuid(uuid::Uuid::new_v4());
        ledger
            .store
            .commit(&rows, &[(key_id, vec![9; 72])], &[])
            .await
            .unwrap();
        let heads = ledger.store.heads().await.unwrap();
        assert_eq!(heads.position, 150);
        assert_eq!(heads.hash, hash);
        assert_eq!(heads.streams.get("key/k"), Some(&15));
        assert_eq!(lifecycle_events(&ledger.readers).await.unwrap().len(), 15);
        assert_eq!(
            shredding_keys(&ledger.readers).await.unwrap(),
            vec![(key_id, vec![9; 72])]
        );
        let verified = replay::verify_sqlite(&path).await.unwrap();
        assert_eq!(verified.events, 150);

        // A duplicate stream version is refused by the store itself, and nothing of the batch lands.
        let dup = [Row {
            position: 151,
            stream: Some("key/k"),
            stream_version: Some(15),
            event_name: "E",
            data: b"{}",
            hash,
        }];
        assert!(ledger.store.commit(&dup, &[], &[]).await.is_err());
        assert_eq!(ledger.store.heads().await.unwrap().position, 150);
    }

    #[tokio::test]
    async fn the_file_uses_wal_and_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = SqliteLedger::open(&dir.path().join("ledger.db"))
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
}
