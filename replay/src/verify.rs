//! Re-derive the hash chain from stored rows and report the first break.

use crate::{chain_hash, GENESIS_HASH};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{ConnectOptions, Connection, Row};
use std::path::Path;

/// One stored event as the ledger keeps it.
#[derive(Debug, Clone)]
pub struct StoredRow {
    pub position: i64,
    pub stream: Option<String>,
    pub stream_version: Option<i64>,
    pub event_name: String,
    pub data: Vec<u8>,
    pub hash: Vec<u8>,
    pub event_id: Option<String>,
    pub time_ns: Option<i64>,
    pub keys: Option<String>,
    pub error_code: Option<String>,
    pub account: Option<String>,
    pub principal: Option<String>,
}

/// The outcome of a successful verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub events: u64,
    pub head: [u8; 32],
}

impl std::fmt::Display for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} events verified, head {}",
            self.events,
            hex::encode(self.head)
        )
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("position {position}: {reason}")]
    Broken { position: i64, reason: String },
    #[error("cannot read the ledger: {0}")]
    Read(String),
}

impl VerifyError {
    /// The first position at which the ledger fails, if the failure is in the data.
    pub fn position(&self) -> Option<i64> {
        match self {
            VerifyError::Broken { position, .. } => Some(*position),
            VerifyError::Read(_) => None,
        }
    }
}

fn broken(position: i64, reason: impl Into<String>) -> VerifyError {
    VerifyError::Broken {
        position,
        reason: reason.into(),
    }
}

/// Verify rows given in ascending position order.
pub struct ChainVerifier {
    expected_position: i64,
    prev: [u8; 32],
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            expected_position: 1,
            prev: GENESIS_HASH,
        }
    }
}

impl ChainVerifier {
    /// Go on from the event at `position` whose hash is `hash` (already trusted): the
    /// server's start-up check verifies only the tail after its newest checkpoint.
    pub fn after(position: u64, hash: [u8; 32]) -> ChainVerifier {
        ChainVerifier {
            expected_position: position as i64 + 1,
            prev: hash,
        }
    }

    pub fn push(&mut self, row: &StoredRow) -> Result<(), VerifyError> {
        let expected = chain_hash(&self.prev, row.position as u64, &row.data);
        self.push_checked(row, expected.as_slice() == row.hash.as_slice(), || {
            columns_agree(row)
        })
    }

    /// [`push`](Self::push) with the per-row checks already made (on other threads): whether
    /// the row's stored hash is the chain hash of the stored hash before it, and whether its
    /// columns agree with its JSON. Checked in the same order as `push`, so the first break
    /// reported is the same.
    fn push_checked(
        &mut self,
        row: &StoredRow,
        chained: bool,
        columns: impl FnOnce() -> Result<(), VerifyError>,
    ) -> Result<(), VerifyError> {
        let position = row.position;
        if position != self.expected_position {
            // A gap (deleted row) or a reordering: name the first position that is wrong.
            return Err(broken(
                self.expected_position,
                format!(
                    "expected position {}, found {}",
                    self.expected_position, position
                ),
            ));
        }
        if !chained {
            return Err(broken(position, "hash does not match the chain"));
        }
        columns()?;
        self.prev = row
            .hash
            .as_slice()
            .try_into()
            .expect("a chained hash is 32 bytes");
        self.expected_position += 1;
        Ok(())
    }

    pub fn finish(self) -> Verified {
        Verified {
            events: (self.expected_position - 1) as u64,
            head: self.prev,
        }
    }
}

/// The envelope fields that are also stored as columns agree with the hashed data.
fn columns_agree(row: &StoredRow) -> Result<(), VerifyError> {
    let position = row.position;
    let columns = crate::columns::derive(&row.data)
        .map_err(|e| broken(position, format!("event is not a valid envelope: {e}")))?;
    if columns.event_name != row.event_name
        || columns.stream != row.stream
        || columns.stream_version != row.stream_version
        || Some(&columns.event_id) != row.event_id.as_ref()
        || Some(columns.time_ns) != row.time_ns
        || columns.keys != row.keys
        || columns.error_code != row.error_code
        || columns.account != row.account
        || columns.principal != row.principal
    {
        return Err(broken(
            position,
            "indexed columns disagree with the hashed event",
        ));
    }
    Ok(())
}

/// What can be checked of one row without the rows before it, given the stored hash of the
/// row before: whether its stored hash chains from that one (by induction, a ledger whose
/// every stored hash chains from the stored hash before it is the recomputed chain), its
/// columns, and its RFC 6962 leaf hash.
struct Prepared {
    chained: bool,
    columns: Result<(), VerifyError>,
    leaf: [u8; 32],
}

fn prepare_one(previous: &[u8], row: &StoredRow) -> Prepared {
    // A previous hash of the wrong length has already failed its own row.
    let chained = <[u8; 32]>::try_from(previous).is_ok_and(|previous| {
        chain_hash(&previous, row.position as u64, &row.data).as_slice() == row.hash.as_slice()
    });
    Prepared {
        chained,
        columns: columns_agree(row),
        leaf: crate::trail::leaf_hash(&row.data),
    }
}

/// [`prepare_one`] for a page, on every core: `first_previous` is the stored hash before
/// the page's first row (the genesis hash before position 1).
fn prepare(first_previous: &[u8; 32], rows: &[StoredRow]) -> Vec<Prepared> {
    let previous = |i: usize| -> &[u8] {
        match i {
            0 => first_previous,
            i => &rows[i - 1].hash,
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if threads == 1 || rows.len() < 512 {
        return (0..rows.len())
            .map(|i| prepare_one(previous(i), &rows[i]))
            .collect();
    }
    let chunk = rows.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..rows.len())
            .step_by(chunk)
            .map(|start| {
                let end = (start + chunk).min(rows.len());
                scope.spawn(move || {
                    (start..end)
                        .map(|i| prepare_one(previous(i), &rows[i]))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().expect("preparing rows does not panic"))
            .collect()
    })
}

/// Verify an in-memory sequence of rows.
pub fn verify_rows<'a>(
    rows: impl IntoIterator<Item = &'a StoredRow>,
) -> Result<Verified, VerifyError> {
    let mut verifier = ChainVerifier::default();
    for row in rows {
        verifier.push(row)?;
    }
    Ok(verifier.finish())
}

/// What `verify` checks beyond the stored data itself.
#[derive(Debug, Default, Clone)]
pub struct VerifyOptions {
    /// The verifier key the checkpoints must be signed with (`<name>+<id>+<base64>`); by
    /// default the one the ledger's `TrailKeyCreated` event names. An auditor passes the key
    /// they kept: a ledger rewritten and re-signed with another key then fails.
    pub vkey: Option<String>,
    /// A signed checkpoint an auditor saved earlier: the ledger must extend it.
    pub saved_checkpoint: Option<Vec<u8>>,
}

/// Verify the SQLite ledger file `path`, opened read-only, streaming its rows: the chain,
/// and the trail's evidence (see [`verify_ledger`]).
pub async fn verify_sqlite(path: &Path) -> Result<Verified, VerifyError> {
    verify_ledger(path, &VerifyOptions::default(), &mut |_, _| {}).await
}

/// The checks of `keyledger verify`, streaming: the BLAKE3 chain; every stored tree hash
/// against the tree recomputed from the events; every checkpoint's signature and its root
/// against the recomputed tree of its size; that the newest checkpoint covers the whole
/// log; and, given one, that the ledger extends an auditor's saved checkpoint.
/// `progress(done, total)` is called every few thousand events.
pub async fn verify_ledger(
    path: &Path,
    options: &VerifyOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Verified, VerifyError> {
    verify_source(Source::sqlite(path).await?, options, progress).await
}

/// The checks of [`verify_ledger`] on the PostgreSQL ledger at `url`
/// (`postgres://user:password@host:port/database`), read in one read-only transaction: a
/// ledger being appended to is verified as one snapshot, as it stood at the first read.
pub async fn verify_postgres(
    url: &str,
    options: &VerifyOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Verified, VerifyError> {
    verify_source(Source::postgres(url).await?, options, progress).await
}

/// [`verify_postgres`] for a `postgres://` or `postgresql://` URL, else [`verify_ledger`]
/// of the SQLite file at that path.
pub async fn verify_location(
    location: &str,
    options: &VerifyOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Verified, VerifyError> {
    if is_postgres_url(location) {
        verify_postgres(location, options, progress).await
    } else {
        verify_ledger(Path::new(location), options, progress).await
    }
}

/// [`check`], then the session ends whatever the verdict.
async fn verify_source(
    mut source: Source,
    options: &VerifyOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Verified, VerifyError> {
    let verified = check(&mut source, options, progress).await;
    source.close().await;
    verified
}

/// The checks, written once for every backend.
async fn check(
    source: &mut Source,
    options: &VerifyOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Verified, VerifyError> {
    let total = source.head().await?;
    let mut tree = TreeCheck::load(source, options).await?;
    let mut leaves = StoredLeaves::default();
    let mut verifier = ChainVerifier::default();
    let mut after = 0i64;
    // A damaged page can make the database itself fail: say where the good part ends.
    let where_it_ends = |e: VerifyError, verified: i64| match e {
        VerifyError::Read(e) => VerifyError::Read(format!(
            "{e} (the events up to position {verified} verified)"
        )),
        other => other,
    };
    let mut rows = source
        .rows_after(after)
        .await
        .map_err(|e| where_it_ends(e, 0))?;
    while let Some(last) = rows.last() {
        after = last.position;
        let mut page_leaves = Vec::with_capacity(rows.len());
        for _ in 0..rows.len() {
            page_leaves.push(leaves.next(source).await?);
        }
        // The next page is read (by SQLite's or PostgreSQL's own thread) while this one is
        // checked here and on the other cores.
        let checking = async {
            let prepared = prepare(&verifier.prev, &rows);
            for ((stored, prepared), stored_leaf) in rows.iter().zip(prepared).zip(page_leaves) {
                verifier.push_checked(stored, prepared.chained, || prepared.columns)?;
                tree.push(stored, prepared.leaf, stored_leaf)?;
            }
            Ok::<(), VerifyError>(())
        };
        let (next, checked) = futures_util::future::join(source.rows_after(after), checking).await;
        checked?;
        progress(after as u64, total as u64);
        rows = next.map_err(|e| where_it_ends(e, after))?;
    }
    if leaves.next(source).await?.is_some() {
        return Err(broken(
            verifier.expected_position,
            "the trail tree has leaves beyond the last event (events were removed)",
        ));
    }
    let verified = verifier.finish();
    progress(verified.events, total as u64);
    tree.finish(verified.events)?;
    Ok(verified)
}

fn read(e: sqlx::Error) -> VerifyError {
    VerifyError::Read(e.to_string())
}

/// Where the ledger is read from: the checks are the same, only the queries differ.
enum Source {
    /// A SQLite file opened read-only: the events on one connection, the leaves on another.
    Sqlite {
        rows: SqliteConnection,
        leaves: SqliteConnection,
    },
    /// A PostgreSQL database, in one REPEATABLE READ READ ONLY transaction: the events,
    /// leaves and checkpoints of one snapshot, whatever is appended meanwhile. One
    /// connection: every read is fetched whole before the next.
    Postgres(PgConnection),
}

impl Source {
    async fn sqlite(path: &Path) -> Result<Source, VerifyError> {
        if !path.exists() {
            return Err(VerifyError::Read(format!(
                "{} does not exist",
                path.display()
            )));
        }
        let connect = || async {
            SqliteConnectOptions::new()
                .filename(path)
                .read_only(true)
                .connect()
                .await
                .map_err(read)
        };
        Ok(Source::Sqlite {
            rows: connect().await?,
            leaves: connect().await?,
        })
    }

    async fn postgres(url: &str) -> Result<Source, VerifyError> {
        let mut conn = PgConnection::connect(url)
            .await
            .map_err(|e| VerifyError::Read(format!("{}: {e}", without_userinfo(url))))?;
        sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut conn)
            .await
            .map_err(read)?;
        Ok(Source::Postgres(conn))
    }

    /// Ends the session (and so the read transaction); the verdict is already in.
    async fn close(self) {
        match self {
            Source::Sqlite { rows, leaves } => {
                let _ = rows.close().await;
                let _ = leaves.close().await;
            }
            Source::Postgres(conn) => {
                let _ = conn.close().await;
            }
        }
    }

    /// A query both backends run as written.
    async fn fetch_all<T>(&mut self, sql: &'static str) -> Result<Vec<T>, VerifyError>
    where
        T: Send + Unpin + for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow>,
    {
        match self {
            Source::Sqlite { rows, .. } => sqlx::query_as(sql).fetch_all(rows).await,
            Source::Postgres(conn) => sqlx::query_as(sql).fetch_all(conn).await,
        }
        .map_err(read)
    }

    /// The position of the newest event (0 for none).
    async fn head(&mut self) -> Result<i64, VerifyError> {
        let head: Vec<(i64,)> = self
            .fetch_all("SELECT COALESCE(MAX(position), 0) FROM events")
            .await?;
        Ok(head.first().map_or(0, |h| h.0))
    }

    /// Up to [`PAGE_ROWS`] events after position `after`, in position order. The positions
    /// are checked by the chain (a row out of order fails it, never passes).
    async fn rows_after(&mut self, after: i64) -> Result<Vec<StoredRow>, VerifyError> {
        match self {
            Source::Sqlite { rows, .. } => packed_rows(rows, after).await,
            Source::Postgres(conn) => sqlx::query(
                "SELECT position, stream, stream_version, event_name, data, hash, event_id, \
                 time_ns, keys, error_code, account, principal FROM events WHERE position > $1 \
                 ORDER BY position LIMIT $2",
            )
            .bind(after)
            .bind(PAGE_ROWS)
            .fetch_all(conn)
            .await
            .and_then(|rows| rows.iter().map(pg_row).collect())
            .map_err(read),
        }
    }

    /// Up to `limit` stored leaf hashes from index `from`, in index order.
    async fn leaves_from(&mut self, from: i64, limit: i64) -> Result<Vec<Vec<u8>>, VerifyError> {
        match self {
            // Packed: one row per chunk (sqlx's row-by-row hand-off would cost more than the
            // hashing).
            Source::Sqlite { leaves, .. } => {
                let packed: Option<String> = sqlx::query_scalar(
                    "SELECT group_concat(hex(hash), '') FROM (SELECT hash FROM trail_hashes \
                     WHERE level = 0 AND idx >= ? ORDER BY idx LIMIT ?)",
                )
                .bind(from)
                .bind(limit)
                .fetch_one(leaves)
                .await
                .map_err(read)?;
                let bytes = hex::decode(packed.unwrap_or_default())
                    .map_err(|e| VerifyError::Read(format!("trail_hashes: {e}")))?;
                Ok(if bytes.len() % 32 != 0 {
                    // A stored hash of the wrong length: it matches no event's leaf.
                    vec![bytes]
                } else {
                    bytes.chunks_exact(32).map(<[u8]>::to_vec).collect()
                })
            }
            // One hash per row: one of the wrong length matches no event's leaf.
            Source::Postgres(conn) => sqlx::query_scalar(
                "SELECT hash FROM trail_hashes WHERE level = 0 AND idx >= $1 ORDER BY idx LIMIT $2",
            )
            .bind(from)
            .bind(limit)
            .fetch_all(conn)
            .await
            .map_err(read),
        }
    }
}

/// Whether `location` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// `url` without its userinfo and query (either can hold the password): what a message
/// may show of it.
pub fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "the database URL".into();
    };
    let rest = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let from = authority.rfind('@').map_or(0, |at| at + 1);
    format!("{scheme}://{}", &rest[from..])
}

fn pg_row(row: &PgRow) -> Result<StoredRow, sqlx::Error> {
    Ok(StoredRow {
        position: row.try_get("position")?,
        stream: row.try_get("stream")?,
        stream_version: row.try_get("stream_version")?,
        event_name: row.try_get("event_name")?,
        data: row.try_get("data")?,
        hash: row.try_get("hash")?,
        event_id: row.try_get("event_id")?,
        time_ns: row.try_get("time_ns")?,
        keys: row.try_get("keys")?,
        error_code: row.try_get("error_code")?,
        account: row.try_get("account")?,
        principal: row.try_get("principal")?,
    })
}

/// Rows per read of the events.
const PAGE_ROWS: i64 = 4096;
/// Field and record separators of packed rows (ASCII US and RS). A field that holds one
/// makes its row unreadable, which fails verification: never a row read wrongly.
const FIELD: char = '\u{1f}';
const RECORD: char = '\u{1e}';

/// The SQLite page of [`Source::rows_after`], read as one packed string: one SQLite row
/// for thousands of events, instead of a hand-off through sqlx's worker per event.
async fn packed_rows(
    conn: &mut SqliteConnection,
    after: i64,
) -> Result<Vec<StoredRow>, VerifyError> {
    let packed: Option<String> = sqlx::query_scalar(
        "SELECT group_concat(printf('%d\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s', \
         position, stream, stream_version, event_name, CAST(data AS TEXT), hex(hash), event_id, time_ns, \
         keys, error_code, account, principal), char(30)) FROM (SELECT * FROM events WHERE position > ? \
         ORDER BY position LIMIT ?)",
    )
    .bind(after)
    .bind(PAGE_ROWS)
    .fetch_one(&mut *conn)
    .await
    .map_err(read)?;
    let Some(packed) = packed else {
        return Ok(Vec::new());
    };
    let mut rows = Vec::with_capacity(PAGE_ROWS as usize);
    for record in packed.split(RECORD) {
        let position_hint = rows
            .last()
            .map_or(after + 1, |r: &StoredRow| r.position + 1);
        let bad = |what: &str| broken(position_hint, format!("unreadable row: {what}"));
        let fields: Vec<&str> = record.split(FIELD).collect();
        let [position, stream, stream_version, event_name, data, hash, event_id, time_ns, keys, error_code, account, principal] =
            fields[..]
        else {
            return Err(bad("a field holds a separator"));
        };
        let text = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        let number = |v: &str, what: &str| -> Result<Option<i64>, VerifyError> {
            if v.is_empty() {
                Ok(None)
            } else {
                v.parse().map(Some).map_err(|_| bad(what))
            }
        };
        rows.push(StoredRow {
            position: position.parse().map_err(|_| bad("position"))?,
            stream: text(stream),
            stream_version: number(stream_version, "stream_version")?,
            event_name: event_name.to_owned(),
            // The JSON itself: valid JSON never holds a raw US or RS (control characters are
            // escaped), and bytes that are not UTF-8 fail the read.
            data: data.as_bytes().to_vec(),
            hash: hex::decode(hash).map_err(|_| bad("hash"))?,
            event_id: text(event_id),
            time_ns: number(time_ns, "time_ns")?,
            keys: text(keys),
            error_code: text(error_code),
            account: text(account),
            principal: text(principal),
        });
    }
    Ok(rows)
}

/// The stored leaf hashes in index order, fetched in chunks.
#[derive(Default)]
struct StoredLeaves {
    next_index: i64,
    buffer: std::collections::VecDeque<Vec<u8>>,
    done: bool,
}

impl StoredLeaves {
    const CHUNK: i64 = 8192;

    async fn next(&mut self, source: &mut Source) -> Result<Option<Vec<u8>>, VerifyError> {
        if self.buffer.is_empty() && !self.done {
            self.buffer
                .extend(source.leaves_from(self.next_index, Self::CHUNK).await?);
            self.next_index += Self::CHUNK;
            self.done = (self.buffer.len() as i64) < Self::CHUNK;
        }
        Ok(self.buffer.pop_front())
    }
}

/// The trail's evidence, checked alongside the chain.
struct TreeCheck {
    frontier: crate::trail::Frontier,
    /// Stored hashes above level 0, by (level, index).
    upper: std::collections::HashMap<(u8, u64), Vec<u8>>,
    /// Stored checkpoints by size, ascending: (size, root, note).
    checkpoints: std::collections::VecDeque<(u64, Vec<u8>, String)>,
    newest_checkpoint: Option<u64>,
    vkey: Option<String>,
    saved: Option<crate::trail::VerifiedCheckpoint>,
    saved_note: Option<Vec<u8>>,
    scratch: Vec<crate::trail::StoredHash>,
}

impl TreeCheck {
    async fn load(source: &mut Source, options: &VerifyOptions) -> Result<TreeCheck, VerifyError> {
        let upper: Vec<(i64, i64, Vec<u8>)> = source
            .fetch_all("SELECT level, idx, hash FROM trail_hashes WHERE level > 0")
            .await?;
        let checkpoints: Vec<(i64, Vec<u8>, String)> = source
            .fetch_all(
                "SELECT tree_size, root_hash, note FROM trail_checkpoints ORDER BY tree_size",
            )
            .await?;
        Ok(TreeCheck {
            frontier: Default::default(),
            upper: upper
                .into_iter()
                .map(|(l, i, h)| ((l as u8, i as u64), h))
                .collect(),
            newest_checkpoint: checkpoints.last().map(|c| c.0 as u64),
            checkpoints: checkpoints
                .into_iter()
                .map(|(s, r, n)| (s as u64, r, n))
                .collect(),
            vkey: options.vkey.clone(),
            saved: None,
            saved_note: options.saved_checkpoint.clone(),
            scratch: Vec::new(),
        })
    }

    fn vkey(&self, position: i64) -> Result<&str, VerifyError> {
        self.vkey.as_deref().ok_or_else(|| {
            broken(
                position,
                "a checkpoint precedes the ledger's TrailKeyCreated event; no verifier key",
            )
        })
    }

    fn push(
        &mut self,
        row: &StoredRow,
        leaf: [u8; 32],
        stored_leaf: Option<Vec<u8>>,
    ) -> Result<(), VerifyError> {
        let position = row.position;
        if self.vkey.is_none() && row.stream.as_deref() == Some("trail") {
            self.vkey = trail_verifier_key(&row.data);
        }
        if self.saved.is_none() {
            if let Some(note) = self.saved_note.take() {
                if self.vkey.is_some() {
                    let saved = crate::trail::verify_checkpoint(&note, self.vkey(position)?)
                        .map_err(|e| broken(position, format!("the saved checkpoint: {e}")))?;
                    self.saved = Some(saved);
                } else {
                    self.saved_note = Some(note);
                }
            }
        }
        self.scratch.clear();
        self.frontier.push(leaf, &mut self.scratch);
        if stored_leaf.as_deref() != Some(&leaf[..]) {
            return Err(broken(
                position,
                "the trail tree's leaf hash does not match the event",
            ));
        }
        for node in &self.scratch[1..] {
            if self.upper.remove(&(node.level, node.index)).as_deref() != Some(&node.hash[..]) {
                return Err(broken(
                    position,
                    format!(
                        "the trail tree's node ({}, {}) does not match the events",
                        node.level, node.index
                    ),
                ));
            }
        }
        let size = self.frontier.size();
        while let Some((checkpoint_size, _, _)) = self.checkpoints.front() {
            if *checkpoint_size > size {
                break;
            }
            let (checkpoint_size, root, note) = self.checkpoints.pop_front().expect("front");
            if checkpoint_size < size {
                return Err(broken(position, "checkpoints are out of order"));
            }
            let signed = crate::trail::verify_checkpoint(note.as_bytes(), self.vkey(position)?)
                .map_err(|e| broken(position, format!("the checkpoint of size {size}: {e}")))?;
            let recomputed = self.frontier.root();
            if signed.size != size || signed.root != recomputed || root != recomputed {
                return Err(broken(
                    position,
                    format!("the checkpoint of size {size} does not match the events"),
                ));
            }
        }
        if let Some(saved) = &self.saved {
            if saved.size == size && saved.root != self.frontier.root() {
                return Err(broken(
                    position,
                    format!(
                        "the ledger does not extend the saved checkpoint of size {size}: \
                         what it covered was rewritten"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn finish(self, events: u64) -> Result<(), VerifyError> {
        let after = events as i64 + 1;
        if let Some((size, _, _)) = self.checkpoints.front() {
            return Err(broken(
                after,
                format!(
                    "a checkpoint covers {size} events but the log ends at {events}: events were removed"
                ),
            ));
        }
        if let Some((level, index)) = self.upper.keys().next() {
            return Err(broken(
                after,
                format!("the trail tree stores node ({level}, {index}) beyond the events"),
            ));
        }
        let saved = match (&self.saved, &self.saved_note) {
            (Some(saved), _) => Some(saved.clone()),
            // Never checked: there was no verifier key, or the log is shorter than it.
            (None, Some(note)) => {
                let vkey = self.vkey.as_deref().ok_or_else(|| {
                    broken(after, "no verifier key to check the saved checkpoint with")
                })?;
                Some(
                    crate::trail::verify_checkpoint(note, vkey)
                        .map_err(|e| broken(after, format!("the saved checkpoint: {e}")))?,
                )
            }
            (None, None) => None,
        };
        if let Some(saved) = saved {
            if saved.size > events {
                return Err(broken(
                    after,
                    format!(
                        "the saved checkpoint covers {} events but the log ends at {events}: \
                         events were removed",
                        saved.size
                    ),
                ));
            }
        }
        match self.newest_checkpoint {
            Some(newest) if newest == events => Ok(()),
            _ if events == 0 => Ok(()),
            Some(newest) => Err(broken(
                newest as i64 + 1,
                format!(
                    "the newest checkpoint covers {newest} of {events} events; \
                     the rest is not signed (start the server once to checkpoint it)"
                ),
            )),
            None => Err(broken(
                1,
                "the ledger has no checkpoint (start the server once to make one)",
            )),
        }
    }
}

/// The verifier key a `TrailKeyCreated` event names.
fn trail_verifier_key(data: &[u8]) -> Option<String> {
    // The envelope carries the body's `event_type` beside it: `{…, "event_type", "body"}`.
    #[derive(serde::Deserialize)]
    struct Event {
        event_type: String,
        body: Key,
    }
    #[derive(serde::Deserialize)]
    struct Key {
        verifier_key: String,
    }
    let event: Event = serde_json::from_slice(data).ok()?;
    (event.event_type == "TrailKeyCreated").then_some(event.body.verifier_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<StoredRow> {
        let mut prev = GENESIS_HASH;
        (1..=n)
            .map(|position| {
                let data = format!(
                    r#"{{"event_name":"Encrypt","event_id":"e{position}","time":"2026-12-01T00:00:00Z","n":{position}}}"#
                )
                .into_bytes();
                let hash = chain_hash(&prev, position as u64, &data);
                prev = hash;
                StoredRow {
                    position,
                    stream: None,
                    stream_version: None,
                    event_name: "Encrypt".into(),
                    data,
                    hash: hash.to_vec(),
                    event_id: Some(format!("e{position}")),
                    time_ns: Some(1_796_083_200_000_000_000),
                    keys: None,
                    error_code: None,
                    account: None,
                    principal: None,
                }
            })
            .collect()
    }

    /// What `check` does with a page: [`prepare`] on every core, then `push_checked`.
    fn verify_prepared(rows: &[StoredRow]) -> Result<Verified, VerifyError> {
        let mut verifier = ChainVerifier::default();
        for page in rows.chunks(1024) {
            let prepared = prepare(&verifier.prev, page);
            for (row, p) in page.iter().zip(prepared) {
                verifier.push_checked(row, p.chained, || p.columns)?;
            }
        }
        Ok(verifier.finish())
    }

    #[test]
    fn pages_checked_on_every_core_fail_where_one_row_at_a_time_fails() {
        let intact = chain(3000);
        assert_eq!(
            verify_prepared(&intact).unwrap(),
            verify_rows(&intact).unwrap()
        );
        let edited = |f: &dyn Fn(&mut Vec<StoredRow>)| {
            let mut rows = intact.clone();
            f(&mut rows);
            rows
        };
        let cases: Vec<(&str, Vec<StoredRow>)> = vec![
            (
                "edited in the second page",
                edited(&|r| r[1700].data[3] ^= 1),
            ),
            (
                "edited first row of a page",
                edited(&|r| r[1024].data[3] ^= 1),
            ),
            (
                "rehashed edit",
                edited(&|r| {
                    r[2100].data = br#"{"event_name":"Encrypt","event_id":"e2101","time":"2026-12-01T00:00:00Z","n":0}"#.to_vec();
                    let previous: [u8; 32] = r[2099].hash.clone().try_into().unwrap();
                    r[2100].hash = chain_hash(&previous, 2101, &r[2100].data).to_vec();
                }),
            ),
            (
                "deleted",
                edited(&|r| {
                    r.remove(1500);
                }),
            ),
            ("swapped", edited(&|r| r.swap(2047, 2048))),
            ("column", edited(&|r| r[2500].event_name = "Decrypt".into())),
            (
                "hash of the wrong length",
                edited(&|r| r[900].hash.truncate(31)),
            ),
        ];
        for (what, rows) in cases {
            let one_by_one = verify_rows(&rows).unwrap_err();
            let paged = verify_prepared(&rows).unwrap_err();
            assert!(one_by_one.position().is_some(), "{what}");
            assert_eq!(paged.position(), one_by_one.position(), "{what}");
            assert_eq!(paged.to_string(), one_by_one.to_string(), "{what}");
        }
    }

    #[test]
    fn an_intact_chain_verifies() {
        let rows = chain(5);
        let verified = verify_rows(&rows).expect("intact");
        assert_eq!(verified.events, 5);
        assert_eq!(verified.head.to_vec(), rows[4].hash);
    }

    #[test]
    fn an_edited_event_is_caught_at_its_position() {
        let mut rows = chain(5);
        rows[2].data[3] ^= 1;
        assert_eq!(verify_rows(&rows).unwrap_err().position(), Some(3));
    }

    #[test]
    fn a_deleted_event_is_caught() {
        let mut rows = chain(5);
        rows.remove(1);
        assert_eq!(verify_rows(&rows).unwrap_err().position(), Some(2));
    }

    #[test]
    fn swapped_events_are_caught() {
        let mut rows = chain(5);
        rows.swap(1, 2);
        assert_eq!(verify_rows(&rows).unwrap_err().position(), Some(2));
    }

    #[test]
    fn a_rehashed_edit_breaks_the_next_link() {
        // An attacker who edits an event and recomputes its own hash still breaks the link after it.
        let mut rows = chain(5);
        rows[1].data =
            br#"{"event_name":"Encrypt","event_id":"e2","time":"2026-12-01T00:00:00Z","n":99}"#
                .to_vec();
        rows[1].hash =
            chain_hash(&rows[0].hash.clone().try_into().unwrap(), 2, &rows[1].data).to_vec();
        assert_eq!(verify_rows(&rows).unwrap_err().position(), Some(3));
    }

    #[test]
    fn a_column_that_disagrees_with_the_data_is_caught() {
        let mut rows = chain(3);
        rows[0].event_name = "Decrypt".into();
        assert_eq!(verify_rows(&rows).unwrap_err().position(), Some(1));
    }

    #[test]
    fn a_keys_column_that_disagrees_with_the_data_is_caught() {
        // The read models are rebuilt from the columns: a forged key column must not pass.
        let mut rows = chain(3);
        rows[1].keys = Some("1234abcd-12ab-34cd-56ef-1234567890ab".into());
        assert_eq!(verify_rows(&rows).unwrap_err().position(), Some(2));
        let mut rows = chain(3);
        rows[2].error_code = Some("AccessDeniedException".into());
        assert_eq!(verify_rows(&rows).unwrap_err().position(), Some(3));
        let mut rows = chain(3);
        rows[0].event_id = Some("e9".into());
        assert_eq!(verify_rows(&rows).unwrap_err().position(), Some(1));
        let mut rows = chain(3);
        rows[1].time_ns = rows[1].time_ns.map(|t| t - 1);
        assert_eq!(verify_rows(&rows).unwrap_err().position(), Some(2));
        let mut rows = chain(3);
        rows[2].event_id = None;
        assert_eq!(
            verify_rows(&rows).unwrap_err().position(),
            Some(3),
            "a missing column"
        );
    }

    #[test]
    fn a_database_url_is_shown_without_its_credentials() {
        for (url, shown) in [
            (
                "postgres://u:secret@db:5432/ledger",
                "postgres://db:5432/ledger",
            ),
            (
                "postgresql://u@db/ledger?password=secret",
                "postgresql://db/ledger",
            ),
            ("postgres://db/ledger", "postgres://db/ledger"),
            ("postgres://u:p@ss@db", "postgres://db"),
        ] {
            assert_eq!(without_userinfo(url), shown);
        }
    }

    #[tokio::test]
    async fn a_failed_connection_names_the_database_without_the_password() {
        // Port 1: nothing listens, so the connection is refused.
        let e = verify_location(
            "postgres://keyledger:secret@127.0.0.1:1/ledger",
            &VerifyOptions::default(),
            &mut |_, _| {},
        )
        .await
        .unwrap_err();
        let message = e.to_string();
        assert!(
            message.contains("postgres://127.0.0.1:1/ledger"),
            "{message}"
        );
        assert!(!message.contains("secret"), "{message}");
    }

    #[test]
    fn the_keys_column_is_each_resource_key_once() {
        use crate::columns::{lifecycle_keys, usage_keys};
        let arn = |id: &str| format!("arn:aws:kms:us-east-1:111122223333:key/{id}");
        let (a, b) = (arn("k-a"), arn("k-b"));
        assert_eq!(
            usage_keys([a.as_str(), b.as_str(), a.as_str()]),
            Some("k-a k-b".into())
        );
        assert_eq!(
            usage_keys(["arn:aws:kms:us-east-1:111122223333:alias/x"]),
            None
        );
        assert_eq!(lifecycle_keys("key/k-a"), Some("k-a".into()));
        assert_eq!(lifecycle_keys("alias/us-east-1/111122223333/alias/x"), None);
    }
}
