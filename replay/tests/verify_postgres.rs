//! A PostgreSQL ledger verifies exactly as the same rows in a SQLite file do: the same
//! verdict, the same error at the same position.
//!
//! They need a PostgreSQL server: `KEYLEDGER_TEST_DATABASE` is an admin URL (one allowed to
//! `CREATE DATABASE`); each test makes a database of its own there and drops it after. When it
//! is unset the tests are skipped, unless `KEYLEDGER_REQUIRE_POSTGRES=1` (CI): then they fail.

use rand_core::RngCore;
use replay::trail::{Frontier, NoteSigner, StoredHash};
use replay::{StoredRow, Verified, VerifyOptions};
use sqlx::{ConnectOptions, Connection, Executor};

/// Two pages of events (4,096 a page) and two chunks of stored leaves (8,192 a chunk).
const EVENTS: usize = 8300;

const POSTGRES_SCHEMA: &str = include_str!("../../migrations/postgres/0001_ledger.sql");
const SQLITE_MIGRATIONS: [&str; 5] = [
    include_str!("../../migrations/sqlite/0001_ledger.sql"),
    include_str!("../../migrations/sqlite/0002_seam.sql"),
    include_str!("../../migrations/sqlite/0003_merkle.sql"),
    include_str!("../../migrations/sqlite/0004_trail_index.sql"),
    include_str!("../../migrations/sqlite/0005_billing_compliance.sql"),
];

/// The admin URL, or `None` (after saying so) when the tests are to be skipped.
fn admin_url(test: &str) -> Option<String> {
    match std::env::var("KEYLEDGER_TEST_DATABASE") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("KEYLEDGER_REQUIRE_POSTGRES").as_deref() == Ok("1") => {
            panic!("KEYLEDGER_REQUIRE_POSTGRES=1 but KEYLEDGER_TEST_DATABASE is not set")
        }
        Err(_) => {
            eprintln!("{test}: skipped (KEYLEDGER_TEST_DATABASE is not set)");
            None
        }
    }
}

/// What a ledger stores: the events, the trail's stored hashes and its checkpoints.
#[derive(Clone)]
struct Ledger {
    rows: Vec<StoredRow>,
    hashes: Vec<StoredHash>,
    checkpoints: Vec<(u64, [u8; 32], String)>,
}

/// A valid ledger of `events` events: the trail key first (the checkpoints' verifier key),
/// then usage events; a checkpoint signed at each of the sizes `signed`.
fn ledger(events: usize, signed: &[usize]) -> Ledger {
    let origin = "keyledger/111122223333";
    let (skey, vkey) = replay::trail::generate_note_key(origin).unwrap();
    let signer = NoteSigner::new(&skey).unwrap();
    let mut ledger = Ledger {
        rows: Vec::new(),
        hashes: Vec::new(),
        checkpoints: Vec::new(),
    };
    let mut prev = replay::GENESIS_HASH;
    let mut frontier = Frontier::default();
    for position in 1..=events {
        let time = format!(
            "2026-12-01T{:02}:{:02}:{:02}Z",
            position / 3600,
            position / 60 % 60,
            position % 60
        );
        let event = if position == 1 {
            serde_json::json!({
                "event_name": "TrailKeyCreated", "stream": "trail", "stream_version": 1,
                "event_id": "e1", "time": time, "event_type": "TrailKeyCreated",
                "body": {"verifier_key": vkey},
            })
        } else {
            serde_json::json!({
                "event_name": "Encrypt", "event_id": format!("e{position}"), "time": time,
                "error_code": (position % 7 == 0).then_some("AccessDeniedException"),
                "body": {
                    "resources": [{"ARN": format!(
                        "arn:aws:kms:us-east-1:111122223333:key/k-{}", position % 5
                    )}],
                    "userIdentity": {
                        "accountId": "111122223333",
                        "arn": format!("arn:aws:iam::111122223333:user/u{}", position % 3),
                    },
                },
            })
        };
        let data = serde_json::to_vec(&event).unwrap();
        let columns = replay::columns::derive(&data).unwrap();
        let hash = replay::chain_hash(&prev, position as u64, &data);
        prev = hash;
        frontier.push(replay::trail::leaf_hash(&data), &mut ledger.hashes);
        if signed.contains(&position) {
            let (size, root) = (position as u64, frontier.root());
            let note = signer.sign_checkpoint(origin, size, root).unwrap();
            ledger.checkpoints.push((size, root, note));
        }
        let owned = |v: Option<std::borrow::Cow<'_, str>>| v.map(|v| v.into_owned());
        let row = StoredRow {
            position: position as i64,
            stream: owned(columns.stream),
            stream_version: columns.stream_version,
            event_name: columns.event_name.into_owned(),
            data: Vec::new(),
            hash: hash.to_vec(),
            event_id: Some(columns.event_id.into_owned()),
            time_ns: Some(columns.time_ns),
            keys: columns.keys,
            error_code: owned(columns.error_code),
            account: owned(columns.account),
            principal: owned(columns.principal),
        };
        ledger.rows.push(StoredRow { data, ..row });
    }
    ledger
}

impl Ledger {
    /// The ledger as it stood at `events` events, and what was appended after.
    fn split(mut self, events: usize) -> (Ledger, Ledger) {
        let size = events as u64;
        let covered = |h: &StoredHash| (h.index + 1) << h.level <= size;
        let appended = Ledger {
            rows: self.rows.split_off(events),
            hashes: self
                .hashes
                .iter()
                .filter(|h| !covered(h))
                .copied()
                .collect(),
            checkpoints: self
                .checkpoints
                .iter()
                .filter(|c| c.0 > size)
                .cloned()
                .collect(),
        };
        self.hashes.retain(covered);
        self.checkpoints.retain(|c| c.0 <= size);
        (self, appended)
    }
}

/// Inserts `$ledger` through `$conn` (QueryBuilder writes each backend's placeholders).
macro_rules! insert_ledger {
    ($db:ty, $conn:expr, $ledger:expr) => {{
        let (conn, ledger): (_, &Ledger) = ($conn, $ledger);
        for rows in ledger.rows.chunks(500) {
            sqlx::QueryBuilder::<$db>::new(
                "INSERT INTO events (position, stream, stream_version, event_name, data, hash, \
                 event_id, time_ns, keys, error_code, account, principal) ",
            )
            .push_values(rows, |mut b, r| {
                b.push_bind(r.position)
                    .push_bind(r.stream.clone())
                    .push_bind(r.stream_version)
                    .push_bind(r.event_name.clone())
                    .push_bind(r.data.clone())
                    .push_bind(r.hash.clone())
                    .push_bind(r.event_id.clone())
                    .push_bind(r.time_ns)
                    .push_bind(r.keys.clone())
                    .push_bind(r.error_code.clone())
                    .push_bind(r.account.clone())
                    .push_bind(r.principal.clone());
            })
            .build()
            .execute(&mut *conn)
            .await
            .unwrap();
        }
        for hashes in ledger.hashes.chunks(2000) {
            sqlx::QueryBuilder::<$db>::new("INSERT INTO trail_hashes (level, idx, hash) ")
                .push_values(hashes, |mut b, h| {
                    b.push_bind(i64::from(h.level))
                        .push_bind(h.index as i64)
                        .push_bind(h.hash.to_vec());
                })
                .build()
                .execute(&mut *conn)
                .await
                .unwrap();
        }
        if !ledger.checkpoints.is_empty() {
            sqlx::QueryBuilder::<$db>::new(
                "INSERT INTO trail_checkpoints (tree_size, root_hash, note, created_ns) ",
            )
            .push_values(&ledger.checkpoints, |mut b, (size, root, note)| {
                b.push_bind(*size as i64)
                    .push_bind(root.to_vec())
                    .push_bind(note.clone())
                    .push_bind(1_796_083_200_000_000_000i64);
            })
            .build()
            .execute(&mut *conn)
            .await
            .unwrap();
        }
    }};
}

/// `url` with its path (the database) replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (rest, query) = rest
        .split_once('?')
        .map_or((rest, None), |(r, q)| (r, Some(q)));
    let authority = rest.split('/').next().unwrap_or_default();
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{scheme}://{authority}/{database}{query}")
}

/// A fresh database with the ledger's schema and `ledger` in it, removed by [`Database::remove`].
struct Database {
    admin: String,
    name: String,
    url: String,
}

impl Database {
    async fn create(admin: &str, ledger: &Ledger) -> Database {
        let mut random = [0u8; 8];
        rand_core::OsRng.fill_bytes(&mut random);
        let name = format!("kltest_{}", hex::encode(random));
        let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        conn.close().await.unwrap();
        let database = Database {
            admin: admin.to_owned(),
            url: with_database(admin, &name),
            name,
        };
        let mut conn = database.connect().await;
        sqlx::raw_sql(POSTGRES_SCHEMA)
            .execute(&mut conn)
            .await
            .unwrap();
        insert_ledger!(sqlx::Postgres, &mut conn, ledger);
        conn.close().await.unwrap();
        database
    }

    async fn connect(&self) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(&self.url).await.unwrap()
    }

    /// Best effort: a failure leaves a `kltest_` database behind, nothing worse.
    async fn remove(self) {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin).await {
            let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            if let Err(e) = conn.execute(drop.as_str()).await {
                eprintln!("could not drop the test database {}: {e}", self.name);
            }
            let _ = conn.close().await;
        }
    }
}

/// `ledger` written to a new SQLite file, then `tamper` (SQL) run on it.
async fn sqlite_file(ledger: &Ledger, tamper: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    for migration in SQLITE_MIGRATIONS {
        sqlx::raw_sql(migration).execute(&mut conn).await.unwrap();
    }
    insert_ledger!(sqlx::Sqlite, &mut conn, ledger);
    sqlx::raw_sql(tamper).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    (dir, path)
}

/// Verifies `ledger` written to PostgreSQL and to a SQLite file; both verdicts must be the
/// same, and that verdict is returned (errors as their messages, which name the position).
async fn verdict(admin: &str, ledger: &Ledger) -> Result<Verified, String> {
    let (_dir, path) = sqlite_file(ledger, "").await;
    let options = VerifyOptions::default();
    let sqlite = replay::verify_ledger(&path, &options, &mut |_, _| {})
        .await
        .map_err(|e| e.to_string());

    let database = Database::create(admin, ledger).await;
    let postgres = replay::verify_location(&database.url, &options, &mut |_, _| {})
        .await
        .map_err(|e| e.to_string());
    database.remove().await;
    assert_eq!(postgres, sqlite, "PostgreSQL and SQLite disagree");
    postgres
}

#[tokio::test]
async fn an_intact_ledger_verifies_as_its_sqlite_copy_does() {
    let Some(admin) = admin_url("an_intact_ledger_verifies_as_its_sqlite_copy_does") else {
        return;
    };
    let ledger = ledger(EVENTS, &[1000, EVENTS]);
    let verified = verdict(&admin, &ledger).await.expect("intact");
    assert_eq!(verified.events, EVENTS as u64);
    assert_eq!(verified.head.to_vec(), ledger.rows[EVENTS - 1].hash);
}

#[tokio::test]
async fn an_edited_event_is_caught_at_its_position() {
    let Some(admin) = admin_url("an_edited_event_is_caught_at_its_position") else {
        return;
    };
    let mut ledger = ledger(EVENTS, &[1000, EVENTS]);
    // In the second page of events; the JSON stays valid, its hash stays as stored.
    let edited = &mut ledger.rows[4999];
    edited.data = String::from_utf8(edited.data.clone())
        .unwrap()
        .replace("user/u", "user/x")
        .into_bytes();
    assert_eq!(
        verdict(&admin, &ledger).await.unwrap_err(),
        "position 5000: hash does not match the chain"
    );
}

#[tokio::test]
async fn a_deleted_event_is_caught() {
    let Some(admin) = admin_url("a_deleted_event_is_caught") else {
        return;
    };
    let mut ledger = ledger(EVENTS, &[1000, EVENTS]);
    // The first event of the second page.
    ledger.rows.remove(4096);
    assert_eq!(
        verdict(&admin, &ledger).await.unwrap_err(),
        "position 4097: expected position 4097, found 4098"
    );
}

#[tokio::test]
async fn a_deleted_leaf_hash_is_caught() {
    let Some(admin) = admin_url("a_deleted_leaf_hash_is_caught") else {
        return;
    };
    let mut ledger = ledger(EVENTS, &[1000, EVENTS]);
    // The first leaf of the second chunk: the event at position 8193.
    ledger.hashes.retain(|h| (h.level, h.index) != (0, 8192));
    assert_eq!(
        verdict(&admin, &ledger).await.unwrap_err(),
        "position 8193: the trail tree's leaf hash does not match the event"
    );
}

#[tokio::test]
async fn a_ledger_appended_to_meanwhile_is_verified_as_one_snapshot() {
    let Some(admin) = admin_url("a_ledger_appended_to_meanwhile_is_verified_as_one_snapshot")
    else {
        return;
    };
    let (before, appended) = ledger(EVENTS + 1, &[1000, EVENTS, EVENTS + 1]).split(EVENTS);
    let database = Database::create(&admin, &before).await;
    // After the first page: an event, its trail hashes and a checkpoint, committed by
    // another writer. Seen by a later read, they would break the checks (the checkpoints
    // were read before them, or the event without its hashes).
    let append = || {
        block_on(async {
            let mut conn = database.connect().await;
            let mut tx = conn.begin().await.unwrap();
            insert_ledger!(sqlx::Postgres, &mut *tx, &appended);
            tx.commit().await.unwrap();
        })
    };
    let mut appended_once = false;
    let verified =
        replay::verify_postgres(&database.url, &VerifyOptions::default(), &mut |done, _| {
            if done == 4096 && !appended_once {
                appended_once = true;
                std::thread::scope(|s| s.spawn(append).join().unwrap());
            }
        })
        .await;
    let mut conn = database.connect().await;
    let now: i64 = sqlx::query_scalar("SELECT MAX(position) FROM events")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    database.remove().await;
    assert!(appended_once);
    assert_eq!(now, EVENTS as i64 + 1, "the append committed");
    assert_eq!(
        verified.expect("the snapshot verifies").events,
        EVENTS as u64
    );
}

/// The SQLite ledger too is verified as one snapshot (one read transaction): here in WAL
/// mode, as the server keeps it, so another writer commits while `verify` reads.
#[tokio::test]
async fn a_sqlite_ledger_appended_to_meanwhile_is_verified_as_one_snapshot() {
    let (before, appended) = ledger(EVENTS + 1, &[1000, EVENTS, EVENTS + 1]).split(EVENTS);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
    let mut conn = options.clone().connect().await.unwrap();
    for migration in SQLITE_MIGRATIONS {
        sqlx::raw_sql(migration).execute(&mut conn).await.unwrap();
    }
    insert_ledger!(sqlx::Sqlite, &mut conn, &before);
    conn.close().await.unwrap();
    let append = || {
        block_on(async {
            let mut conn = options.clone().connect().await.unwrap();
            let mut tx = conn.begin().await.unwrap();
            insert_ledger!(sqlx::Sqlite, &mut *tx, &appended);
            tx.commit().await.unwrap();
        })
    };
    let mut appended_once = false;
    let verified = replay::verify_ledger(&path, &VerifyOptions::default(), &mut |done, _| {
        if done == 4096 && !appended_once {
            appended_once = true;
            std::thread::scope(|s| s.spawn(append).join().unwrap());
        }
    })
    .await;
    assert!(appended_once);
    assert_eq!(
        verified.expect("the snapshot verifies").events,
        EVENTS as u64
    );
    // Read again, the whole ledger verifies.
    let verified = replay::verify_ledger(&path, &VerifyOptions::default(), &mut |_, _| {})
        .await
        .expect("the ledger with the append verifies");
    assert_eq!(verified.events, EVENTS as u64 + 1);
}

/// A row the reader cannot take (SQLite keeps an integer in the `data` column) ends the
/// check with an error in the third page; a break in the second page, prepared while the
/// third was read, is still the one reported (the first break, as in a serial check).
#[tokio::test]
async fn a_break_before_an_unreadable_row_is_reported_first() {
    let mut ledger = ledger(EVENTS, &[1000, EVENTS]);
    let unreadable = "UPDATE events SET data = 42 WHERE position = 8250";
    let (_dir, path) = sqlite_file(&ledger, unreadable).await;
    let options = VerifyOptions::default();
    let error = replay::verify_ledger(&path, &options, &mut |_, _| {})
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(error, "position 8250: unreadable row: data");
    let edited = &mut ledger.rows[4999];
    edited.data = String::from_utf8(edited.data.clone())
        .unwrap()
        .replace("user/u", "user/x")
        .into_bytes();
    let (_dir, path) = sqlite_file(&ledger, unreadable).await;
    let error = replay::verify_ledger(&path, &options, &mut |_, _| {})
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "position 5000: hash does not match the chain"
    );
}

/// What each of the tree's and the checkpoints' checks says about a SQLite ledger edited
/// so that only it can tell (each message names its check).
#[tokio::test]
async fn each_tree_and_checkpoint_check_catches_its_own_edit() {
    let ledger = ledger(EVENTS, &[1000, EVENTS]);
    let options = VerifyOptions::default();
    for (tamper, expected) in [
        (
            "UPDATE trail_hashes SET hash = zeroblob(32) WHERE level = 8 AND idx = 1",
            "position 512: the trail tree's node (8, 1) does not match the events",
        ),
        (
            "UPDATE trail_checkpoints SET root_hash = zeroblob(32) WHERE tree_size = 1000",
            "position 1000: the checkpoint of size 1000 does not match the events",
        ),
        (
            "UPDATE trail_checkpoints SET note = replace(note, '1000', '1001') WHERE tree_size = 1000",
            "position 1000: the checkpoint of size 1000: the proof does not verify: signature: invalid signature",
        ),
        (
            "INSERT INTO trail_hashes (level, idx, hash) VALUES (8, 900, zeroblob(32))",
            "position 8301: the trail tree stores node (8, 900) beyond the events",
        ),
        (
            "INSERT INTO trail_hashes (level, idx, hash) VALUES (0, 8300, zeroblob(32))",
            "position 8301: the trail tree has leaves beyond the last event (events were removed)",
        ),
    ] {
        let (_dir, path) = sqlite_file(&ledger, tamper).await;
        let error = replay::verify_ledger(&path, &options, &mut |_, _| {})
            .await
            .map(|v| v.events)
            .map_err(|e| e.to_string())
            .expect_err(tamper);
        assert!(error.starts_with(expected), "{tamper}: {error}");
    }
}

/// Runs `future` on a runtime of its own: another writer, on another thread, while `verify`
/// waits in its progress callback.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}
