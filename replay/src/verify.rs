//! Re-derive the hash chain from stored rows and report the first break.

use crate::{chain_hash, GENESIS_HASH};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{Connection, Row};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// One stored event as the ledger keeps it.
#[derive(Debug, Clone, Default)]
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
    if columns.event_name != row.event_name.as_str()
        || columns.stream.as_deref() != row.stream.as_deref()
        || columns.stream_version != row.stream_version
        || Some(columns.event_id.as_ref()) != row.event_id.as_deref()
        || Some(columns.time_ns) != row.time_ns
        || columns.keys != row.keys
        || columns.error_code.as_deref() != row.error_code.as_deref()
        || columns.account.as_deref() != row.account.as_deref()
        || columns.principal.as_deref() != row.principal.as_deref()
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

impl Default for Prepared {
    fn default() -> Prepared {
        Prepared {
            chained: false,
            columns: Ok(()),
            leaf: [0; 32],
        }
    }
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

/// Rows a thread prepares at a time: small, so a thread the scheduler set aside (the reader
/// and the serial checks share the cores) holds a page up by one chunk at most.
const CHUNK: usize = 64;

/// One page to prepare, shared by the calling thread and the helpers: each takes the next
/// chunk until none is left.
struct Job {
    page: Arc<Page>,
    /// The stored hash before the page's first row (the genesis hash before position 1).
    first_previous: [u8; 32],
    next_chunk: AtomicUsize,
}

impl Job {
    fn take(&self) -> Option<usize> {
        let chunk = self.next_chunk.fetch_add(1, Ordering::Relaxed);
        (chunk * CHUNK < self.page.rows.len()).then_some(chunk)
    }

    /// [`prepare_one`] for each row of `chunk`, into `slots` (as many as its rows).
    fn prepare(&self, chunk: usize, slots: &mut [Prepared]) {
        let rows = &self.page.rows;
        for (offset, slot) in slots.iter_mut().enumerate() {
            let i = chunk * CHUNK + offset;
            let previous = match i {
                0 => &self.first_previous[..],
                i => &rows[i - 1].hash,
            };
            *slot = prepare_one(previous, &rows[i]);
        }
    }

    fn rows_of(&self, chunk: usize) -> std::ops::Range<usize> {
        chunk * CHUNK..((chunk + 1) * CHUNK).min(self.page.rows.len())
    }
}

enum Report {
    Chunk(usize, Vec<Prepared>),
    /// A helper is done with the job (and has let go of its page).
    Finished,
}

/// The threads that prepare pages beside the serial checks, started once per verification:
/// one fewer than the cores, since the calling thread takes chunks too. Started anew for
/// each page, a helper began on the core that spawned it while the other idled, and took
/// fresh pages from the allocator: `perf sched` showed each core idle about an eighth of
/// the time (decision 0009).
struct Preparers {
    jobs: Vec<std::sync::mpsc::Sender<Arc<Job>>>,
    done: std::sync::mpsc::Receiver<Report>,
}

impl Preparers {
    fn start() -> Preparers {
        let helpers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8)) - 1;
        let (report, done) = std::sync::mpsc::channel();
        let jobs = (0..helpers)
            .filter_map(|i| {
                let (send, receive) = std::sync::mpsc::channel::<Arc<Job>>();
                let report = report.clone();
                // A helper that cannot start leaves the work to the others.
                std::thread::Builder::new()
                    .name(format!("verify-{i}"))
                    .spawn(move || {
                        for job in receive {
                            while let Some(chunk) = job.take() {
                                let mut slots = Vec::with_capacity(CHUNK);
                                slots.resize_with(job.rows_of(chunk).len(), Prepared::default);
                                job.prepare(chunk, &mut slots);
                                let _ = report.send(Report::Chunk(chunk, slots));
                            }
                            drop(job);
                            let _ = report.send(Report::Finished);
                        }
                    })
                    .ok()
                    .map(|_| send)
            })
            .collect();
        Preparers { jobs, done }
    }

    /// [`prepare_one`] for every row of `page`, on every core, into `into` (emptied first;
    /// its allocation is kept from page to page), while `meanwhile` runs on the calling
    /// thread, which then takes chunks too.
    fn prepare_while<T>(
        &self,
        first_previous: &[u8; 32],
        page: &Arc<Page>,
        into: &mut Vec<Prepared>,
        meanwhile: impl FnOnce() -> T,
    ) -> T {
        into.clear();
        into.resize_with(page.rows.len(), Prepared::default);
        let job = Arc::new(Job {
            page: Arc::clone(page),
            first_previous: *first_previous,
            next_chunk: AtomicUsize::new(0),
        });
        let helping = self
            .jobs
            .iter()
            .filter(|helper| helper.send(Arc::clone(&job)).is_ok())
            .count();
        let done = meanwhile();
        while let Some(chunk) = job.take() {
            job.prepare(chunk, &mut into[job.rows_of(chunk)]);
        }
        let mut finished = 0;
        while finished < helping {
            match self.done.recv().expect("a helper reports before it stops") {
                Report::Chunk(chunk, slots) => {
                    let rows = job.rows_of(chunk);
                    into.splice(rows, slots);
                }
                Report::Finished => finished += 1,
            }
        }
        done
    }
}

/// [`Preparers::prepare_while`] with nothing to do meanwhile.
#[cfg(test)]
fn prepare(first_previous: &[u8; 32], rows: &[StoredRow]) -> Vec<Prepared> {
    let page = Arc::new(Page {
        rows: rows.to_vec(),
        ..Page::default()
    });
    let mut prepared = Vec::new();
    Preparers::start().prepare_while(first_previous, &page, &mut prepared, || ());
    prepared
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
    let Preamble {
        head: total,
        upper,
        checkpoints,
    } = source.preamble().await?;
    let mut tree = TreeCheck::load(upper, checkpoints, options);
    let mut verifier = ChainVerifier::default();
    let preparers = Preparers::start();
    // A damaged page can make the database itself fail: say where the good part ends.
    let where_it_ends = |e: VerifyError, verified: i64| match e {
        VerifyError::Read(e) => VerifyError::Read(format!(
            "{e} (the events up to position {verified} verified)"
        )),
        other => other,
    };
    let mut page = Arc::new(source.next_page().await.map_err(|e| where_it_ends(e, 0))?);
    // A pipeline of three stages: SQLite's reader thread fetches page k + 2 while page k + 1
    // is prepared on every core and page k is pushed through the chain and the tree here, in
    // order, so the first break reported is the same. (PostgreSQL's fetch is polled on this
    // task, which the other two stages hold: it runs mostly between them, not beside them.)
    let mut prepared_page: Option<(Arc<Page>, Vec<Prepared>)> = None;
    // The page being prepared is filled into `filling`; the one pushed hands its (emptied)
    // vector back to be filled next.
    let mut filling = Vec::new();
    loop {
        let end = page.rows.is_empty();
        let pushed_to = prepared_page
            .as_ref()
            .and_then(|(p, _)| p.rows.last())
            .map_or(0, |r| r.position);
        // The stored hash before this page's first row: the last one of the page before. One
        // of the wrong length fails its own row first, so any value serves.
        let first_previous = match &prepared_page {
            Some((p, _)) => p.rows.last().map_or(GENESIS_HASH, |r| {
                r.hash.as_slice().try_into().unwrap_or(GENESIS_HASH)
            }),
            None => verifier.prev,
        };
        let work = async {
            preparers.prepare_while(&first_previous, &page, &mut filling, || {
                prepared_page.take().map(|(done, mut prepared)| {
                    let pushed = push_page(&mut verifier, &mut tree, &done, &mut prepared);
                    (pushed, done, prepared)
                })
            })
        };
        let (next, pushed) = if end {
            (Ok(Page::default()), work.await)
        } else {
            futures_util::future::join(source.next_page(), work).await
        };
        let mut emptied = Vec::new();
        if let Some((pushed, done, prepared)) = pushed {
            pushed?;
            // Every other holder of the page (the helpers' job) has let it go by now.
            if let Ok(done) = Arc::try_unwrap(done) {
                source.recycle(done);
            }
            emptied = prepared;
        }
        progress(pushed_to as u64, total as u64);
        if end {
            break;
        }
        let after = page.rows.last().map_or(0, |r| r.position);
        let next = match next {
            Ok(next) => next,
            Err(e) => {
                // The page just prepared comes before the one that could not be read: a
                // break in it is the first to report, and else it is verified, as the
                // message says.
                push_page(&mut verifier, &mut tree, &page, &mut filling)?;
                return Err(where_it_ends(e, after));
            }
        };
        prepared_page = Some((page, std::mem::replace(&mut filling, emptied)));
        page = Arc::new(next);
    }
    if page.more_leaves {
        return Err(broken(
            verifier.expected_position,
            "the trail tree has leaves beyond the last event (events were removed)",
        ));
    }
    let verified = verifier.finish();
    // The read ended where the log does (a reader that stopped early, its thread gone, looks
    // like the end of the log otherwise).
    if verified.events != total as u64 {
        return Err(VerifyError::Read(format!(
            "the events were read up to position {} of {total}",
            verified.events
        )));
    }
    progress(verified.events, total as u64);
    tree.finish(verified.events)?;
    Ok(verified)
}

/// The serial part of the checks, for a prepared page: the chain and the tree, row by row.
fn push_page(
    verifier: &mut ChainVerifier,
    tree: &mut TreeCheck,
    page: &Page,
    prepared: &mut Vec<Prepared>,
) -> Result<(), VerifyError> {
    let prepared = prepared.drain(..);
    for ((stored, prepared), stored_leaf) in page.rows.iter().zip(prepared).zip(&page.leaves) {
        verifier.push_checked(stored, prepared.chained, || prepared.columns)?;
        tree.push(stored, prepared.leaf, stored_leaf.as_deref())?;
    }
    Ok(())
}

fn read(e: sqlx::Error) -> VerifyError {
    VerifyError::Read(e.to_string())
}

/// Where the ledger is read from: the checks are the same, only the queries differ.
enum Source {
    /// A SQLite file, read by its own thread (see [`SqliteSource`]).
    Sqlite(SqliteSource),
    /// A PostgreSQL database, in one REPEATABLE READ READ ONLY transaction: the events,
    /// leaves and checkpoints of one snapshot, whatever is appended meanwhile. One
    /// connection: every read is fetched whole before the next.
    Postgres {
        conn: PgConnection,
        after: i64,
        leaves: StoredLeaves,
    },
}

/// Up to [`PAGE_ROWS`] consecutive events, each with the stored leaf hash of the same index
/// (`None` past the last stored leaf).
#[derive(Default)]
struct Page {
    rows: Vec<StoredRow>,
    leaves: Vec<Option<Vec<u8>>>,
    /// On the empty page that ends the log: whether leaf hashes are stored beyond it.
    more_leaves: bool,
}

impl Source {
    async fn sqlite(path: &Path) -> Result<Source, VerifyError> {
        SqliteSource::open(path).map(Source::Sqlite)
    }

    async fn postgres(url: &str) -> Result<Source, VerifyError> {
        let mut conn = PgConnection::connect(url)
            .await
            .map_err(|e| VerifyError::Read(format!("{}: {e}", without_userinfo(url))))?;
        sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut conn)
            .await
            .map_err(read)?;
        Ok(Source::Postgres {
            conn,
            after: 0,
            leaves: StoredLeaves::default(),
        })
    }

    /// Ends the session (and so the read transaction); the verdict is already in.
    async fn close(self) {
        match self {
            Source::Sqlite(sqlite) => sqlite.close(),
            Source::Postgres { conn, .. } => {
                let _ = conn.close().await;
            }
        }
    }

    /// What is read before the events: the head and the small tables (once; the SQLite
    /// source read them when it opened its transaction).
    async fn preamble(&mut self) -> Result<Preamble, VerifyError> {
        match self {
            Source::Sqlite(sqlite) => Ok(std::mem::take(&mut sqlite.preamble)),
            Source::Postgres { conn, .. } => Ok(Preamble {
                head: sqlx::query_scalar(HEAD_SQL)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(read)?,
                upper: sqlx::query_as(UPPER_HASHES_SQL)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(read)?,
                checkpoints: sqlx::query_as(CHECKPOINTS_SQL)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(read)?,
            }),
        }
    }

    /// Hands a checked page back to be filled again (the SQLite reader reuses its buffers).
    fn recycle(&mut self, page: Page) {
        if let Source::Sqlite(sqlite) = self {
            let _ = sqlite.spare.send(page);
        }
    }

    /// The next page of events in position order, with their stored leaves; empty at the
    /// end of the log. The positions are checked by the chain (a row out of order fails it,
    /// never passes).
    async fn next_page(&mut self) -> Result<Page, VerifyError> {
        match self {
            Source::Sqlite(sqlite) => sqlite.next_page().await,
            Source::Postgres {
                conn,
                after,
                leaves,
            } => {
                let rows: Vec<StoredRow> = sqlx::query(&format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE position > $1 \
                     ORDER BY position LIMIT $2"
                ))
                .bind(*after)
                .bind(PAGE_ROWS as i64)
                .fetch_all(&mut *conn)
                .await
                .and_then(|rows| rows.iter().map(pg_row).collect())
                .map_err(read)?;
                let mut page = Page {
                    leaves: Vec::with_capacity(rows.len()),
                    ..Page::default()
                };
                for _ in 0..rows.len() {
                    page.leaves.push(leaves.next(conn).await?);
                }
                match rows.last() {
                    Some(last) => *after = last.position,
                    None => page.more_leaves = leaves.next(conn).await?.is_some(),
                }
                page.rows = rows;
                Ok(page)
            }
        }
    }
}

/// What is read of a ledger before its events.
#[derive(Default)]
struct Preamble {
    /// The position of the newest event (0 for none).
    head: i64,
    /// The stored tree hashes above level 0: (level, index, hash).
    upper: Vec<(i64, i64, Vec<u8>)>,
    /// The stored checkpoints, smallest first: (size, root, note).
    checkpoints: Vec<(i64, Vec<u8>, String)>,
}

const HEAD_SQL: &str = "SELECT COALESCE(MAX(position), 0) FROM events";
const UPPER_HASHES_SQL: &str = "SELECT level, idx, hash FROM trail_hashes WHERE level > 0";
const CHECKPOINTS_SQL: &str =
    "SELECT tree_size, root_hash, note FROM trail_checkpoints ORDER BY tree_size";

/// A SQLite ledger opened read-only, in one read transaction (one snapshot, whatever the
/// server appends meanwhile). The small tables are read at once; the events and their leaf
/// hashes are streamed by a thread of their own that owns the connection and steps both
/// queries side by side, a page or two ahead of the checks. It reads through rusqlite rather
/// than sqlx: a row handed row by row through sqlx's worker cost more than its hashing, and
/// packing a page into one string cost SQLite as much again (decision 0009).
struct SqliteSource {
    preamble: Preamble,
    pages: tokio::sync::mpsc::Receiver<Result<Page, VerifyError>>,
    /// Checked pages, back to the reader to be filled again.
    spare: std::sync::mpsc::Sender<Page>,
    reader: Option<std::thread::JoinHandle<()>>,
}

fn sqlite_error(e: rusqlite::Error) -> VerifyError {
    VerifyError::Read(e.to_string())
}

impl SqliteSource {
    fn open(path: &Path) -> Result<SqliteSource, VerifyError> {
        if !path.exists() {
            return Err(VerifyError::Read(format!(
                "{} does not exist",
                path.display()
            )));
        }
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite_error)?;
        conn.execute_batch("BEGIN").map_err(sqlite_error)?;
        use rusqlite::types::FromSql;
        fn three<A: FromSql, B: FromSql, C: FromSql>(
            r: &rusqlite::Row<'_>,
        ) -> rusqlite::Result<(A, B, C)> {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        }
        let preamble = Preamble {
            head: conn
                .query_row(HEAD_SQL, [], |r| r.get(0))
                .map_err(sqlite_error)?,
            upper: Self::all(&conn, UPPER_HASHES_SQL, three)?,
            checkpoints: Self::all(&conn, CHECKPOINTS_SQL, three)?,
        };
        // Two pages in flight: one being read while one waits to be checked.
        let (sender, pages) = tokio::sync::mpsc::channel(2);
        let (spare, spare_pages) = std::sync::mpsc::channel();
        let reader = std::thread::Builder::new()
            .name("verify-reader".into())
            .spawn(move || {
                if let Err(e) = stream_pages(&conn, &sender, &spare_pages) {
                    let _ = sender.blocking_send(Err(e));
                }
            })
            .map_err(|e| VerifyError::Read(format!("cannot start the reader: {e}")))?;
        Ok(SqliteSource {
            preamble,
            pages,
            spare,
            reader: Some(reader),
        })
    }

    fn all<T>(
        conn: &rusqlite::Connection,
        sql: &str,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, VerifyError> {
        let mut statement = conn.prepare(sql).map_err(sqlite_error)?;
        let rows = statement.query_map([], row).map_err(sqlite_error)?;
        rows.collect::<Result<_, _>>().map_err(sqlite_error)
    }

    async fn next_page(&mut self) -> Result<Page, VerifyError> {
        // A reader that stopped without an error has sent the empty last page already.
        self.pages
            .recv()
            .await
            .unwrap_or_else(|| Ok(Page::default()))
    }

    /// Stops the reader (it sees the closed channel at its next page) and waits for it.
    fn close(mut self) {
        self.pages.close();
        while self.pages.try_recv().is_ok() {}
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// The reader thread: every event in position order, each page with the leaf hashes of the
/// same indexes, until the log ends or the checks stop listening. Pages the checks are done
/// with come back through `spare` and are filled again in place: allocating and freeing a
/// few strings per event, on two threads, cost more than reading them.
fn stream_pages(
    conn: &rusqlite::Connection,
    pages: &tokio::sync::mpsc::Sender<Result<Page, VerifyError>>,
    spare: &std::sync::mpsc::Receiver<Page>,
) -> Result<(), VerifyError> {
    let mut events = conn
        .prepare(&format!(
            "SELECT {EVENT_COLUMNS} FROM events ORDER BY position"
        ))
        .map_err(sqlite_error)?;
    let mut leaves = conn
        .prepare("SELECT hash FROM trail_hashes WHERE level = 0 ORDER BY idx")
        .map_err(sqlite_error)?;
    let mut events = events.query([]).map_err(sqlite_error)?;
    let mut leaves = leaves.query([]).map_err(sqlite_error)?;
    let mut next_position = 1;
    loop {
        let mut page = spare.try_recv().unwrap_or_else(|_| Page {
            rows: Vec::with_capacity(PAGE_ROWS),
            leaves: Vec::with_capacity(PAGE_ROWS),
            more_leaves: false,
        });
        let mut filled = 0;
        while filled < PAGE_ROWS {
            let Some(row) = events.next().map_err(sqlite_error)? else {
                break;
            };
            if filled == page.rows.len() {
                page.rows.push(StoredRow::default());
                page.leaves.push(None);
            }
            fill_row(row, &mut page.rows[filled])
                .map_err(|what| broken(next_position, format!("unreadable row: {what}")))?;
            next_position = page.rows[filled].position + 1;
            // A stored hash that is not bytes matches no event's leaf.
            let leaf = leaves.next().map_err(sqlite_error)?;
            let leaf = leaf.map(|l| l.get_ref(0).ok().and_then(|v| v.as_bytes().ok()));
            let slot = &mut page.leaves[filled];
            match leaf {
                Some(bytes) => {
                    fill_bytes(slot.get_or_insert_with(Vec::new), bytes.unwrap_or_default())
                }
                None => *slot = None,
            }
            filled += 1;
        }
        page.rows.truncate(filled);
        page.leaves.truncate(filled);
        let last = filled == 0;
        if last {
            page.more_leaves = leaves.next().map_err(sqlite_error)?.is_some();
        }
        if pages.blocking_send(Ok(page)).is_err() || last {
            return Ok(());
        }
    }
}

/// The columns of a stored event, in [`StoredRow`]'s order: the one list every read of whole
/// events names (this crate's and the server's, for each backend).
pub const EVENT_COLUMNS: &str = "position, stream, stream_version, event_name, data, hash, \
     event_id, time_ns, keys, error_code, account, principal";

fn fill_bytes(into: &mut Vec<u8>, bytes: &[u8]) {
    into.clear();
    if into.capacity() < bytes.len() {
        // Straight to a power of two: the events that fill a slot in turn differ by a few
        // bytes, and each time one outgrew the last the allocator had to find a fresh block.
        into.reserve(bytes.len().next_power_of_two());
    }
    into.extend_from_slice(bytes);
}

/// Fill `into` with one row of [`EVENT_COLUMNS`], as rusqlite's own conversions would read
/// it (TEXT for strings, INTEGER for numbers, NULL for `None`); `Err` names the column of
/// the wrong type.
fn fill_row(row: &rusqlite::Row<'_>, into: &mut StoredRow) -> Result<(), &'static str> {
    use rusqlite::types::ValueRef;
    let value = |i: usize, name: &'static str| row.get_ref(i).map_err(|_| name);
    let text = |i: usize, name: &'static str| -> Result<Option<&str>, &'static str> {
        match value(i, name)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(t) => std::str::from_utf8(t).map(Some).map_err(|_| name),
            _ => Err(name),
        }
    };
    let fill_text = |i: usize, name: &'static str, into: &mut Option<String>| {
        match text(i, name)? {
            None => *into = None,
            Some(t) => {
                let s = into.get_or_insert_with(String::new);
                s.clear();
                s.push_str(t);
            }
        }
        Ok::<(), &'static str>(())
    };
    let integer = |i: usize, name: &'static str| -> Result<Option<i64>, &'static str> {
        match value(i, name)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(n) => Ok(Some(n)),
            _ => Err(name),
        }
    };
    into.position = integer(0, "position")?.ok_or("position")?;
    fill_text(1, "stream", &mut into.stream)?;
    into.stream_version = integer(2, "stream_version")?;
    let event_name = text(3, "event_name")?.ok_or("event_name")?;
    into.event_name.clear();
    into.event_name.push_str(event_name);
    // The JSON as stored (a BLOB; TEXT reads the same): bytes that are not JSON fail the
    // columns check of their own position.
    fill_bytes(
        &mut into.data,
        value(4, "data")?.as_bytes().map_err(|_| "data")?,
    );
    fill_bytes(
        &mut into.hash,
        value(5, "hash")?.as_bytes().map_err(|_| "hash")?,
    );
    fill_text(6, "event_id", &mut into.event_id)?;
    into.time_ns = integer(7, "time_ns")?;
    fill_text(8, "keys", &mut into.keys)?;
    fill_text(9, "error_code", &mut into.error_code)?;
    fill_text(10, "account", &mut into.account)?;
    fill_text(11, "principal", &mut into.principal)?;
    Ok(())
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

/// Rows per page of events.
const PAGE_ROWS: usize = 4096;

/// PostgreSQL's stored leaf hashes in index order, fetched in chunks (one hash per row: one
/// of the wrong length matches no event's leaf).
#[derive(Default)]
struct StoredLeaves {
    next_index: i64,
    buffer: std::collections::VecDeque<Vec<u8>>,
    done: bool,
}

impl StoredLeaves {
    const CHUNK: i64 = 8192;

    async fn next(&mut self, conn: &mut PgConnection) -> Result<Option<Vec<u8>>, VerifyError> {
        if self.buffer.is_empty() && !self.done {
            let chunk: Vec<Vec<u8>> = sqlx::query_scalar(
                "SELECT hash FROM trail_hashes WHERE level = 0 AND idx >= $1 ORDER BY idx LIMIT $2",
            )
            .bind(self.next_index)
            .bind(Self::CHUNK)
            .fetch_all(conn)
            .await
            .map_err(read)?;
            self.done = (chunk.len() as i64) < Self::CHUNK;
            self.buffer.extend(chunk);
            self.next_index += Self::CHUNK;
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
    fn load(
        upper: Vec<(i64, i64, Vec<u8>)>,
        checkpoints: Vec<(i64, Vec<u8>, String)>,
        options: &VerifyOptions,
    ) -> TreeCheck {
        TreeCheck {
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
        }
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
        stored_leaf: Option<&[u8]>,
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
        if stored_leaf != Some(&leaf[..]) {
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
