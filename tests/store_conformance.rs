//! One store conformance suite, run against every backend: SQLite (a real file), the
//! in-memory store, and PostgreSQL (a real server, a database per test: `.ci/postgres`).
//!
//! What every store must do: gap-free positions and an intact chain, conflicts that name
//! the expected and actual version and keep only the conflicting append out, two writers
//! on one database that never fork the chain nor both take one stream version, stream and
//! log reads, tail wake-ups (also from another writer), a chain that continues across
//! restarts, a commit that reported an error but landed counted as committed, the trail
//! tree and checkpoints kept with the log (also under two writers), and the same answers to
//! trail queries and a key's last use.

use keyledger::domain::ids::KeyId;
#[path = "common/postgres.rs"]
mod test_database;

use keyledger::ledger::memory::MemoryDatabase;
use keyledger::ledger::postgres::{PostgresLedger, PostgresStore};
use keyledger::ledger::sqlite::{SqliteLedger, SqliteStore};
use keyledger::ledger::{
    AppendBatch, CheckpointSigner, Columns, Conflict, LedgerReader, LedgerStore, NewEvent,
    StoredEvent,
};
use replay::trail::Query;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A database a suite runs against, and how to get writers and readers on it.
trait Backend: Send + Sync + 'static {
    type Store: LedgerStore;
    /// A new writer handle on the same database (a second node or process, when called twice).
    fn store(&self) -> impl std::future::Future<Output = Self::Store> + Send;
    fn reader(&self) -> impl std::future::Future<Output = LedgerReader> + Send;
    /// Make `store`'s commits land and then report a failure (or stop doing so).
    fn land_then_fail(&self, store: &Self::Store, on: bool);
}

struct Sqlite {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl Sqlite {
    fn new() -> Sqlite {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        Sqlite { _dir: dir, path }
    }
}

impl Backend for Sqlite {
    type Store = SqliteStore;
    async fn store(&self) -> SqliteStore {
        SqliteLedger::open(&self.path, keyledger::projections::read_models())
            .await
            .unwrap()
            .store
    }
    async fn reader(&self) -> LedgerReader {
        SqliteLedger::open_read_only(&self.path).await.unwrap()
    }
    fn land_then_fail(&self, store: &SqliteStore, on: bool) {
        store
            .faults()
            .report_failure_after_commit
            .store(on, Ordering::SeqCst);
    }
}

/// A database of the test's own on the PostgreSQL test server, made when first used.
struct Postgres {
    url: String,
}

impl Postgres {
    fn new(test: &str) -> Option<Postgres> {
        Some(Postgres {
            url: test_database::new_database(test)?,
        })
    }
}

impl Backend for Postgres {
    type Store = PostgresStore;
    async fn store(&self) -> PostgresStore {
        let mut ledger = PostgresLedger::open(&self.url, keyledger::projections::read_models())
            .await
            .unwrap();
        ledger.opened().await;
        ledger.store
    }
    async fn reader(&self) -> LedgerReader {
        PostgresLedger::open_read_only(&self.url).await.unwrap()
    }
    fn land_then_fail(&self, store: &PostgresStore, on: bool) {
        store
            .faults()
            .report_failure_after_commit
            .store(on, Ordering::SeqCst);
    }
}

#[derive(Default)]
struct Memory(MemoryDatabase);

impl Backend for Memory {
    type Store = keyledger::ledger::memory::MemoryStore;
    async fn store(&self) -> Self::Store {
        self.0.store()
    }
    async fn reader(&self) -> LedgerReader {
        self.0.reader()
    }
    fn land_then_fail(&self, _: &Self::Store, on: bool) {
        self.0.land_then_fail.store(on, Ordering::SeqCst);
    }
}

fn event(stream: Option<(&str, u64)>, text: &str) -> NewEvent {
    let event_id = uuid::Uuid::now_v7();
    let time = time::OffsetDateTime::now_utc();
    // An envelope as `keyledger verify` reads one: its columns derive from this JSON.
    let mut json = serde_json::json!({
        "event_id": event_id,
        "time": time.format(&time::format_description::well_known::Rfc3339).unwrap(),
        "event_name": "Test",
        "text": text,
    });
    if let Some((s, v)) = stream {
        json["stream"] = s.into();
        json["stream_version"] = v.into();
    }
    NewEvent {
        stream: stream.map(|(s, v)| (s.to_owned(), v)),
        event_name: "Test".into(),
        data: serde_json::to_vec(&json).unwrap(),
        columns: Columns::new(event_id, time, None, None),
        lifecycle: None,
    }
}

fn batch(events: Vec<NewEvent>) -> AppendBatch {
    AppendBatch {
        events,
        ..AppendBatch::default()
    }
}

async fn all_events(reader: &LedgerReader) -> Vec<StoredEvent> {
    let mut out = Vec::new();
    loop {
        let after = out.last().map_or(0, |e: &StoredEvent| e.position);
        let page = reader.read_all(after, 100).await.unwrap();
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

/// Positions 1..=n with no gap, each hash chained from the one before.
fn assert_chain(events: &[StoredEvent]) {
    let mut prev = replay::GENESIS_HASH;
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.position, i as u64 + 1, "gap-free positions");
        assert_eq!(
            e.hash,
            replay::chain_hash(&prev, e.position, &e.data),
            "chain at {}",
            e.position
        );
        prev = e.hash;
    }
}

async fn appends_get_gap_free_positions_and_an_intact_chain<B: Backend>(b: B) {
    let mut store = b.store().await;
    let first = batch(vec![event(None, "a"), event(Some(("s/k", 1)), "b")]);
    let second = batch(vec![event(None, "c")]);
    let outcomes = store.append(&[&first, &second]).await.unwrap();
    assert_eq!(outcomes, vec![Ok(1..3), Ok(3..4)]);
    let outcomes = store
        .append(&[&batch(vec![event(None, "d")])])
        .await
        .unwrap();
    assert_eq!(outcomes, vec![Ok(4..5)]);
    let reader = b.reader().await;
    let events = all_events(&reader).await;
    assert_eq!(events.len(), 4);
    assert_chain(&events);
    assert_eq!(events[1].stream.as_deref(), Some("s/k"));
    assert_eq!(events[1].stream_version, Some(1));
    let head = reader.head().await.unwrap();
    assert_eq!((head.position, head.hash), (4, events[3].hash));
    assert_eq!(store.head().await.unwrap(), head);
    // The stored columns are what the append said.
    assert_eq!(
        events[0].event_id,
        Some(first.events[0].columns.event_id.clone())
    );
    assert_eq!(events[0].time_ns, Some(first.events[0].columns.time_ns));
}

async fn a_conflict_keeps_only_its_own_append_out<B: Backend>(b: B) {
    let mut store = b.store().await;
    store
        .append(&[&batch(vec![event(Some(("s/k", 1)), "v1")])])
        .await
        .unwrap();
    let ok1 = batch(vec![event(None, "x")]);
    let stale = batch(vec![event(None, "y"), event(Some(("s/k", 1)), "again")]);
    let ok2 = batch(vec![event(Some(("s/k", 2)), "v2")]);
    let outcomes = store.append(&[&ok1, &stale, &ok2]).await.unwrap();
    assert_eq!(
        outcomes,
        vec![
            Ok(2..3),
            Err(Conflict {
                stream: "s/k".into(),
                expected: 0,
                actual: 1
            }),
            Ok(3..4)
        ]
    );
    // Within one append, a stream's events must be consecutive versions.
    let skip = batch(vec![
        event(Some(("s/j", 1)), "j1"),
        event(Some(("s/j", 3)), "j3"),
    ]);
    let outcomes = store.append(&[&skip]).await.unwrap();
    assert!(matches!(&outcomes[0], Err(c) if c.expected == 2 && c.actual == 1));
    let events = all_events(&b.reader().await).await;
    assert_eq!(events.len(), 3, "nothing of a refused append landed");
    assert_chain(&events);
}

/// Two writers on one database (two handles: two nodes or processes) race for one stream.
async fn two_writers_never_fork_the_chain_nor_share_a_stream_version<B: Backend>(b: B) {
    let b = std::sync::Arc::new(b);
    const ROUNDS: usize = 60;
    let mut tasks = Vec::new();
    for writer in 0..2 {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            let mut store = b.store().await;
            let reader = b.reader().await;
            let mut won = 0;
            for round in 0..ROUNDS {
                // Decide on what this writer last read, as a node's command handler does.
                let version = reader.read_stream("s/race", 1).await.unwrap().len() as u64;
                let contested = batch(vec![event(
                    Some(("s/race", version + 1)),
                    &format!("{writer}/{round}"),
                )]);
                let filler = batch(vec![event(None, &format!("usage {writer}/{round}"))]);
                let outcomes = store.append(&[&filler, &contested]).await.unwrap();
                assert!(
                    outcomes[0].is_ok(),
                    "an append without a stream never conflicts"
                );
                if outcomes[1].is_ok() {
                    won += 1;
                }
            }
            won
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += t.await.unwrap();
    }
    let events = all_events(&b.reader().await).await;
    assert_chain(&events);
    // Two writers grew one trail tree: every leaf, in log order.
    assert_tree(&b.reader().await, &events).await;
    let versions: Vec<u64> = events
        .iter()
        .filter(|e| e.stream.as_deref() == Some("s/race"))
        .map(|e| e.stream_version.unwrap())
        .collect();
    assert_eq!(
        versions,
        (1..=won as u64).collect::<Vec<_>>(),
        "each version taken once, in order"
    );
    assert_eq!(events.len(), 2 * ROUNDS + won);
    assert!(won >= ROUNDS / 2, "the race made progress ({won} wins)");
}

async fn streams_and_the_log_read_back_in_order<B: Backend>(b: B) {
    let mut store = b.store().await;
    for v in 1..=5u64 {
        store
            .append(&[&batch(vec![
                event(None, "noise"),
                event(Some(("s/s", v)), &format!("s{v}")),
            ])])
            .await
            .unwrap();
    }
    let reader = b.reader().await;
    let from3 = reader.read_stream("s/s", 3).await.unwrap();
    assert_eq!(
        from3
            .iter()
            .map(|e| e.stream_version.unwrap())
            .collect::<Vec<_>>(),
        vec![3, 4, 5]
    );
    assert!(reader.read_stream("s/none", 1).await.unwrap().is_empty());
    let page = reader.read_all(4, 3).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.position).collect::<Vec<_>>(),
        vec![5, 6, 7]
    );
    let lifecycle = reader.read_lifecycle(0).await.unwrap();
    assert_eq!(lifecycle.len(), 5);
    assert!(lifecycle.iter().all(|e| e.stream.is_some()));
    assert!(reader.read_all(10, 10).await.unwrap().is_empty());
}

async fn the_tail_wakes_on_appends_from_any_writer<B: Backend>(b: B) {
    let mut store = b.store().await;
    store
        .append(&[&batch(vec![event(None, "1")])])
        .await
        .unwrap();
    let reader = b.reader().await;
    // Nothing new: the wait does not return.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), reader.wait_beyond(1))
            .await
            .is_err()
    );
    let waiting = tokio::spawn({
        let reader = reader.clone();
        async move { reader.wait_beyond(1).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Another writer handle appends; the reader was opened apart from it.
    let mut other = b.store().await;
    other
        .append(&[&batch(vec![event(None, "2")])])
        .await
        .unwrap();
    let head = tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .expect("woken within 2 s")
        .unwrap();
    assert_eq!(head.position, 2);
    // A position already passed returns at once.
    assert_eq!(reader.wait_beyond(0).await.unwrap().position, 2);
}

async fn the_chain_continues_across_restarts<B: Backend>(b: B) {
    {
        let mut store = b.store().await;
        store
            .append(&[&batch(vec![event(Some(("s/r", 1)), "before")])])
            .await
            .unwrap();
    }
    // A new writer (a restarted process) picks up the head and the stream versions.
    let mut store = b.store().await;
    let outcomes = store
        .append(&[
            &batch(vec![event(Some(("s/r", 1)), "stale")]),
            &batch(vec![event(Some(("s/r", 2)), "after")]),
        ])
        .await
        .unwrap();
    assert!(outcomes[0].is_err());
    assert_eq!(outcomes[1], Ok(2..3));
    assert_chain(&all_events(&b.reader().await).await);
}

async fn a_commit_that_reported_an_error_but_landed_counts_as_committed<B: Backend>(b: B) {
    let mut store = b.store().await;
    b.land_then_fail(&store, true);
    let outcomes = store
        .append(&[&batch(vec![event(Some(("s/l", 1)), "landed")])])
        .await
        .expect("the store believes the log, not the error");
    assert_eq!(outcomes, vec![Ok(1..2)]);
    b.land_then_fail(&store, false);
    // The version moved on with it: 2 is next, not a conflict, and no position is reused.
    let outcomes = store
        .append(&[&batch(vec![event(Some(("s/l", 2)), "next")])])
        .await
        .unwrap();
    assert_eq!(outcomes, vec![Ok(2..3)]);
    assert_chain(&all_events(&b.reader().await).await);
}

async fn shredding_keys_are_kept_and_destroyed_with_their_events<B: Backend>(b: B) {
    let mut store = b.store().await;
    let key = KeyId::from_uuid(uuid::Uuid::new_v4());
    let created = AppendBatch {
        events: vec![event(Some(("s/x", 1)), "created")],
        shredding_keys: vec![(key, vec![7; 72])],
        shredded: vec![],
    };
    store.append(&[&created]).await.unwrap();
    let reader = b.reader().await;
    assert_eq!(
        reader.shredding_keys().await.unwrap(),
        vec![(key, vec![7; 72])]
    );
    let deleted = AppendBatch {
        events: vec![event(Some(("s/x", 2)), "deleted")],
        shredding_keys: vec![],
        shredded: vec![key],
    };
    store.append(&[&deleted]).await.unwrap();
    assert!(reader.shredding_keys().await.unwrap().is_empty());
}

/// Signs with a throwaway note key.
struct TestSigner(replay::trail::NoteSigner, String);

impl TestSigner {
    fn new() -> TestSigner {
        let (skey, vkey) = replay::trail::generate_note_key("conformance").unwrap();
        TestSigner(replay::trail::NoteSigner::new(&skey).unwrap(), vkey)
    }
}

impl CheckpointSigner for TestSigner {
    fn sign(&self, size: u64, root: [u8; 32]) -> Result<String, String> {
        self.0
            .sign_checkpoint("conformance", size, root)
            .map_err(|e| e.to_string())
    }
}

/// The stored tree's root equals RFC 6962's tree of the events' bytes, in log order.
async fn assert_tree(reader: &LedgerReader, events: &[StoredEvent]) {
    let mut frontier = replay::trail::Frontier::default();
    let mut scratch = Vec::new();
    for e in events {
        frontier.push(replay::trail::leaf_hash(&e.data), &mut scratch);
    }
    let size = events.len() as u64;
    let root = reader.tree(Query::Root { size }).await.unwrap();
    assert_eq!(
        root,
        vec![frontier.root()],
        "the stored tree of {size} events"
    );
}

/// The trail tree grows with the log in the append transaction; checkpoints sign it, once
/// per size; proofs from the stored hashes verify with the verifier key alone.
async fn the_trail_tree_and_checkpoints_follow_the_log<B: Backend>(b: B) {
    let signer = TestSigner::new();
    let mut store = b.store().await;
    let reader = b.reader().await;
    assert_eq!(
        store.write_checkpoint(&signer).await.unwrap(),
        None,
        "nothing to sign"
    );
    for i in 0..300 {
        store
            .append(&[&batch(vec![event(None, &format!("e{i}"))])])
            .await
            .unwrap();
    }
    let first = store.write_checkpoint(&signer).await.unwrap().unwrap();
    assert_eq!(first.size, 300);
    assert_eq!(
        store.write_checkpoint(&signer).await.unwrap(),
        None,
        "one per size"
    );
    // Proofs in the tree of 300 (its second leaf tile holds 44 hashes so far): a reader that
    // remembers the tiles it read must read the rest of that tile once the log grows.
    let before_growth = all_events(&reader).await;
    for leaf in [0u64, 256, 299] {
        let event = &before_growth[leaf as usize];
        let path = reader
            .tree(Query::Inclusion { leaf, size: 300 })
            .await
            .unwrap();
        let id = event.event_id.clone().unwrap();
        replay::trail::InclusionProof::new(&id, leaf, &event.data, &path, &first.note, 300)
            .verify(&signer.1)
            .unwrap();
    }
    let texts: Vec<String> = (0..40).map(|i| format!("f{i}")).collect();
    let events: Vec<NewEvent> = texts.iter().map(|t| event(None, t)).collect();
    store.append(&[&batch(events)]).await.unwrap();
    let second = store.write_checkpoint(&signer).await.unwrap().unwrap();
    assert_eq!(second.size, 340);
    let all = all_events(&reader).await;
    assert_tree(&reader, &all).await;
    assert_eq!(reader.checkpoint(None).await.unwrap(), Some(second.clone()));
    assert_eq!(
        reader.checkpoint(Some(300)).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        reader.checkpoints().await.unwrap(),
        vec![first.clone(), second.clone()]
    );
    let checked = replay::trail::verify_checkpoint(second.note.as_bytes(), &signer.1).unwrap();
    assert_eq!((checked.size, checked.root), (340, second.root));

    for leaf in [0u64, 255, 256, 299, 339] {
        let event = &all[leaf as usize];
        let id = event.event_id.clone().unwrap();
        assert_eq!(reader.event_by_id(&id).await.unwrap().as_ref(), Some(event));
        let path = reader
            .tree(Query::Inclusion { leaf, size: 340 })
            .await
            .unwrap();
        let proof =
            replay::trail::InclusionProof::new(&id, leaf, &event.data, &path, &second.note, 340);
        proof.verify(&signer.1).unwrap();
    }
    let proof = reader
        .tree(Query::Consistency { from: 300, to: 340 })
        .await
        .unwrap();
    replay::trail::ConsistencyProof::new(300, 340, &proof)
        .verify(first.note.as_bytes(), second.note.as_bytes(), &signer.1)
        .unwrap();
}

/// A usage event shaped as the server writes one (envelope + CloudTrail record), at
/// `second` seconds after the epoch, by `user`, in `region`.
fn call(
    name: &str,
    key: Option<&str>,
    error: Option<&str>,
    read_only: bool,
    user: &str,
    region: &str,
    second: i64,
) -> NewEvent {
    let event_id = uuid::Uuid::now_v7();
    let time = time::OffsetDateTime::from_unix_timestamp(second).unwrap();
    let account = "111122223333";
    let mut json = serde_json::json!({
        "event_id": event_id, "event_version": 1,
        "time": time.format(&time::format_description::well_known::Rfc3339).unwrap(),
        "request_id": format!("req-{event_id}"), "event_name": name, "read_only": read_only,
        "event_type": "ApiCallRecorded",
        "body": {
            "eventName": name, "awsRegion": region, "recipientAccountId": account,
            "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{account}:user/{user}"),
                             "accountId": account, "accessKeyId": format!("AKIA{user}"), "userName": user},
            "readOnly": read_only, "eventID": event_id,
            "resources": key.map(|k| vec![serde_json::json!({"accountId": account, "type": "AWS::KMS::Key",
                "ARN": format!("arn:aws:kms:{region}:{account}:key/{k}")})]).unwrap_or_default(),
        }
    });
    if let Some(code) = error {
        json["error_code"] = code.into();
    }
    NewEvent {
        stream: None,
        event_name: name.into(),
        data: serde_json::to_vec(&json).unwrap(),
        columns: Columns::new(
            event_id,
            time,
            key.map(str::to_owned),
            error.map(str::to_owned),
        )
        .with_caller(
            Some(account.into()),
            Some(format!("arn:aws:iam::{account}:user/{user}")),
        ),
        lifecycle: None,
    }
}

/// `call` with these CloudTrail request parameters and response elements.
fn call_with(
    mut event: NewEvent,
    parameters: serde_json::Value,
    response: serde_json::Value,
) -> NewEvent {
    let mut json: serde_json::Value = serde_json::from_slice(&event.data).unwrap();
    json["body"]["requestParameters"] = parameters;
    json["body"]["responseElements"] = response;
    event.data = serde_json::to_vec(&json).unwrap();
    event
}

/// Billing and compliance, answered alike by every store from the same calls: the SQL
/// models folded in the append transaction, the memory store by folding its log.
async fn billing_and_compliance_reports_read_the_same_calls<B: Backend>(b: B) {
    use keyledger::app::reports;
    use replay::billing::{BillingMonth, Prices};
    let mut store = b.store().await;
    let east = "us-east-1";
    let created = |key: &str, spec: &str, second| {
        call_with(
            call("CreateKey", Some(key), None, false, "alice", east, second),
            serde_json::json!({}),
            serde_json::json!({"keyMetadata": {"AWSAccountId": "111122223333", "KeySpec": spec, "KeyManager": "CUSTOMER"}}),
        )
    };
    let events = vec![
        created("k1", "SYMMETRIC_DEFAULT", 100),
        created("k2", "ECC_NIST_P256", 101),
        call("Encrypt", Some("k1"), None, false, "alice", east, 110),
        call("Encrypt", Some("k1"), None, false, "bob", east, 111),
        call(
            "Encrypt",
            Some("k1"),
            Some("DisabledException"),
            false,
            "bob",
            east,
            112,
        ),
        call("Sign", Some("k2"), None, false, "alice", east, 113),
        call_with(
            call(
                "GenerateDataKeyPair",
                Some("k1"),
                None,
                false,
                "alice",
                east,
                114,
            ),
            serde_json::json!({"keyId": "k1", "keyPairSpec": "RSA_2048"}),
            serde_json::Value::Null,
        ),
        call(
            "ScheduleKeyDeletion",
            Some("k2"),
            None,
            false,
            "alice",
            east,
            3_700,
        ),
        // Not KMS requests: never billed.
        call("LookupEvents", None, None, true, "alice", east, 115),
    ];
    store.append(&[&batch(events)]).await.unwrap();
    let reader = b.reader().await;
    let month = BillingMonth::parse("1970-01").unwrap();
    let now = time::OffsetDateTime::from_unix_timestamp(7_200).unwrap();
    let bill = reports::billing(&reader, month, None, &Prices::default(), now)
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&bill.to_json()).unwrap();
    let lines: Vec<(String, String, i64)> = json["accounts"][0]["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["key_id"].as_str().unwrap().into(),
                l["price_class"].as_str().unwrap().into(),
                l["requests"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("k1".into(), "symmetric".into(), 3),
            ("k1".into(), "rsa_key_pair".into(), 1),
            ("k2".into(), "asymmetric".into(), 3),
        ]
    );
    assert_eq!(json["accounts"][0]["uncharged"][0]["requests"], 1);
    // k1 for the two hours up to now; k2 for its first hour, until its deletion was scheduled.
    let hours: Vec<i64> = json["accounts"][0]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["hours"].as_i64().unwrap())
        .collect();
    assert_eq!(hours, [3, 2]);
    let compliance = reports::compliance(
        &reader,
        7_200_000_000_000,
        false,
        &reports::ComplianceSettings::default(),
        None,
    )
    .await
    .unwrap();
    let failed: Vec<(&str, &str, i64)> = compliance
        .denied_and_failed
        .iter()
        .map(|l| (l.principal.as_str(), l.key_id.as_str(), l.requests))
        .collect();
    assert_eq!(failed, [("arn:aws:iam::111122223333:user/bob", "k1", 1)]);
    assert_eq!(compliance.usage.iter().map(|l| l.requests).sum::<i64>(), 8);
    // Each key's last cryptographic use, all at once (the report's "unused" column).
    let s = |t: i64| t * 1_000_000_000;
    assert_eq!(
        reader
            .last_cryptographic_uses()
            .await
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        [("k1".to_owned(), s(114)), ("k2".to_owned(), s(113))]
    );
}

/// Trail queries and a key's last use, answered alike by every store: newest first by
/// (time, position), every filter, time bounds, cursors, snapshots and limits; lifecycle
/// events and other regions' events are never in a trail.
async fn trail_queries_select_the_same_events_newest_first<B: Backend>(b: B) {
    use keyledger::ledger::trail::{Cursor, Scope, TrailFilter as F, TrailQuery};
    let mut store = b.store().await;
    let east = "us-east-1";
    let events = vec![
        /* 1 */ call("CreateKey", Some("k1"), None, false, "alice", east, 100),
        /* 2 */ call("Encrypt", Some("k1"), None, true, "alice", east, 110),
        /* 3: recorded later but earlier in time (a slower request) */
        call(
            "Encrypt",
            Some("k1"),
            Some("DisabledException"),
            true,
            "bob",
            east,
            105,
        ),
        /* 4 */ call("Decrypt", Some("k2"), None, true, "bob", east, 120),
        /* 5 */ call("ListKeys", None, None, true, "alice", east, 130),
        /* 6: another region */
        call("Encrypt", Some("k1"), None, true, "alice", "eu-west-1", 140),
        /* 7: a lifecycle event on k1's stream */
        {
            let mut e = event(Some(("key/k1", 1)), "created");
            e.columns.keys = Some("k1".into());
            e
        },
        /* 8 */ call("Sign", Some("k1"), None, true, "alice", east, 150),
        /* 9: the same second as 8 */
        call(
            "Verify",
            Some("k1"),
            Some("KMSInvalidSignatureException"),
            true,
            "alice",
            east,
            150,
        ),
    ];
    let event_id_of_4 = events[3].columns.event_id.clone();
    let request_id_of_8 = format!("req-{}", events[7].columns.event_id);
    store.append(&[&batch(events)]).await.unwrap();
    let reader = b.reader().await;
    let query = |filters: Vec<F>| TrailQuery {
        scope: Scope {
            account: "111122223333".into(),
            region: east.into(),
        },
        filters,
        start_ns: None,
        end_ns: None,
        before: None,
        up_to: None,
        limit: 100,
    };
    let positions = |q: TrailQuery| {
        let reader = reader.clone();
        async move {
            let hits = reader.trail(&q).await.unwrap();
            hits.iter().map(|h| h.position).collect::<Vec<u64>>()
        }
    };
    let s = |t: i64| t * 1_000_000_000;
    let cases: Vec<(TrailQuery, Vec<u64>)> = vec![
        (query(vec![]), vec![9, 8, 5, 4, 2, 3, 1]),
        (query(vec![F::Key("k1".into())]), vec![9, 8, 2, 3, 1]),
        (
            query(vec![F::Key("k1".into()), F::EventName("Encrypt".into())]),
            vec![2, 3],
        ),
        (
            query(vec![F::ErrorCode("DisabledException".into())]),
            vec![3],
        ),
        (query(vec![F::ReadOnly(false)]), vec![1]),
        (
            query(vec![F::Principal(
                "arn:aws:iam::111122223333:user/bob".into(),
            )]),
            vec![4, 3],
        ),
        (query(vec![F::AccessKey("AKIAbob".into())]), vec![4, 3]),
        (
            query(vec![F::User("alice".into()), F::ReadOnly(true)]),
            vec![9, 8, 5, 2],
        ),
        (query(vec![F::EventId(event_id_of_4)]), vec![4]),
        (
            query(vec![F::ResourceType("AWS::KMS::Key".into())]),
            vec![9, 8, 4, 2, 3, 1],
        ),
        (query(vec![F::Key("k3".into())]), vec![]),
        (
            TrailQuery {
                start_ns: Some(s(105)),
                end_ns: Some(s(120)),
                ..query(vec![])
            },
            vec![4, 2, 3],
        ),
        (
            TrailQuery {
                before: Some(Cursor {
                    time_ns: s(150),
                    position: 9,
                }),
                ..query(vec![])
            },
            vec![8, 5, 4, 2, 3, 1],
        ),
        (
            TrailQuery {
                before: Some(Cursor {
                    time_ns: s(110),
                    position: 2,
                }),
                ..query(vec![F::Key("k1".into())])
            },
            vec![3, 1],
        ),
        (
            TrailQuery {
                up_to: Some(4),
                ..query(vec![])
            },
            vec![4, 2, 3, 1],
        ),
        (
            TrailQuery {
                limit: 2,
                ..query(vec![])
            },
            vec![9, 8],
        ),
        (
            TrailQuery {
                scope: Scope {
                    account: "111122223333".into(),
                    region: "eu-west-1".into(),
                },
                ..query(vec![])
            },
            vec![6],
        ),
        (
            TrailQuery {
                scope: Scope {
                    account: "444455556666".into(),
                    region: east.into(),
                },
                ..query(vec![])
            },
            vec![],
        ),
    ];
    for (q, want) in cases {
        assert_eq!(positions(q.clone()).await, want, "{q:?}");
    }
    let hit = &reader
        .trail(&query(vec![F::EventName("Decrypt".into())]))
        .await
        .unwrap()[0];
    assert_eq!((hit.position, hit.time_ns), (4, s(120)));
    assert!(String::from_utf8_lossy(&hit.data).contains("\"Decrypt\""));

    // k1's last successful cryptographic use: the Sign at 8 (9 failed; 6 is k1's too, in
    // another region, but earlier).
    let report = reader.key_usage_report("k1").await.unwrap();
    let last = report.last_use.unwrap();
    assert_eq!(
        (last.operation.as_str(), last.position, last.time_ns),
        ("Sign", 8, s(150))
    );
    assert_eq!(last.request_id, Some(request_id_of_8));
    assert_eq!(report.tracking_start_ns, Some(s(100)));
    let never = reader.key_usage_report("k3").await.unwrap();
    assert_eq!(never.last_use, None);
}

/// Past the trail index's first block boundary (`FOLD_EVERY`), some events are folded into
/// the term-ordered table and the newest staged: a query reads both as one index, newest
/// first, also when a staged event is older in time than folded ones, and page by page.
async fn trail_queries_read_folded_and_staged_events_alike<B: Backend>(b: B) {
    use keyledger::ledger::trail::{Cursor, Scope, TrailFilter as F, TrailQuery};
    use keyledger::projections::trail_index::FOLD_EVERY;
    let mut store = b.store().await;
    let total = FOLD_EVERY + 150;
    // (position, second, key, name, user) of each call, to compute the answers from.
    let mut calls = Vec::new();
    let mut position = 0u64;
    while position < total {
        let mut events = Vec::new();
        for _ in 0..50.min(total - position) {
            position += 1;
            let p = position as i64;
            // Times go back and forth by up to a few hundred seconds against positions.
            let second = 1_700_000_000 + p + (p * 7919) % 301 - 150;
            let key = ["k1", "k2", "k3"][p as usize % 3];
            let name = ["Encrypt", "Decrypt"][p as usize % 2];
            let user = ["alice", "bob", "carol", "dave", "erin"][p as usize % 5];
            events.push(call(name, Some(key), None, true, user, "us-east-1", second));
            calls.push((position, second, key, name, user));
        }
        store.append(&[&batch(events)]).await.unwrap();
    }
    let reader = b.reader().await;
    let query = |filters: Vec<F>, limit: usize| TrailQuery {
        scope: Scope {
            account: "111122223333".into(),
            region: "us-east-1".into(),
        },
        filters,
        start_ns: None,
        end_ns: None,
        before: None,
        up_to: Some(total),
        limit,
    };
    let s = |t: i64| t * 1_000_000_000;
    let cases: Vec<(Vec<F>, fn(&str, &str, &str) -> bool)> = vec![
        (vec![], |_, _, _| true),
        (vec![F::Key("k2".into())], |k, _, _| k == "k2"),
        (
            vec![F::Key("k1".into()), F::EventName("Decrypt".into())],
            |k, n, _| k == "k1" && n == "Decrypt",
        ),
        (
            vec![F::User("carol".into()), F::Key("k3".into())],
            |k, _, u| k == "k3" && u == "carol",
        ),
    ];
    for (filters, selects) in cases {
        let mut want: Vec<(i64, u64)> = calls
            .iter()
            .filter(|(_, _, k, n, u)| selects(k, n, u))
            .map(|&(p, second, ..)| (s(second), p))
            .collect();
        want.sort_unstable_by(|a, b| b.cmp(a));
        assert!(
            want.iter().any(|&(_, p)| p > FOLD_EVERY) && want.iter().any(|&(_, p)| p <= FOLD_EVERY),
            "the answer spans both tables"
        );
        // All at once, and in pages of 7 that continue below the last hit (as NextToken does).
        let all = reader.trail(&query(filters.clone(), 10_000)).await.unwrap();
        let got: Vec<(i64, u64)> = all.iter().map(|h| (h.time_ns, h.position)).collect();
        // (Not assert_eq: a thousand pairs would bury the message.)
        let first_difference = |got: &[(i64, u64)]| got.iter().zip(&want).position(|(a, b)| a != b);
        assert!(
            got == want,
            "{filters:?}: {} hits, {} wanted, first difference at {:?}",
            got.len(),
            want.len(),
            first_difference(&got)
        );
        let mut paged = Vec::new();
        let mut page = query(filters.clone(), 7);
        loop {
            let hits = reader.trail(&page).await.unwrap();
            paged.extend(hits.iter().map(|h| (h.time_ns, h.position)));
            let Some(last) = hits.last().filter(|_| hits.len() == 7) else {
                break;
            };
            page.before = Some(Cursor {
                time_ns: last.time_ns,
                position: last.position,
            });
        }
        assert!(
            paged == want,
            "paged {filters:?}: {} hits, {} wanted, first difference at {:?}",
            paged.len(),
            want.len(),
            first_difference(&paged)
        );
    }
}

/// Replay determinism across a block boundary: what the trail index stages and what it has
/// folded depend on positions only, so a rebuild (which folds the log in large chunks) leaves
/// exactly the rows in each of its tables that the live appends (small batches) did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuilt_trail_index_past_a_block_boundary_equals_the_live_one() {
    use keyledger::projections::trail_index::{TrailIndex, FOLD_EVERY};
    use sqlx::Connection as _;
    let b = Sqlite::new();
    let mut store = b.store().await;
    let mut position = 0;
    while position < FOLD_EVERY + 150 {
        let events = (0..50)
            .map(|i| {
                let key = ["k1", "k2"][i % 2];
                call(
                    "Encrypt",
                    Some(key),
                    None,
                    true,
                    "alice",
                    "us-east-1",
                    100 + i as i64,
                )
            })
            .collect();
        store.append(&[&batch(events)]).await.unwrap();
        position += 50;
    }
    let dump = || async {
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", b.path.display()))
            .await
            .unwrap();
        let mut out = Vec::new();
        for table in ["trail_index", "trail_recent"] {
            let rows: Vec<(i64, i64, i64)> = sqlx::query_as(&format!(
                "SELECT term_key, time_ns, position FROM {table} ORDER BY 3, 1"
            ))
            .fetch_all(&mut conn)
            .await
            .unwrap();
            out.push(rows);
        }
        out
    };
    let live = dump().await;
    let folded_up_to = live[0].iter().map(|r| r.2).max();
    let staged_from = live[1].iter().map(|r| r.2).min();
    assert_eq!(folded_up_to, Some(FOLD_EVERY as i64));
    assert_eq!(staged_from, Some(FOLD_EVERY as i64 + 1));
    let folded = store.rebuild(&TrailIndex, &mut |_, _| {}).await.unwrap();
    assert_eq!(folded, position);
    assert!(
        dump().await == live,
        "the rebuild differs from the live rows"
    );
}

/// The trail index only proposes events: a row filed under a term the event does not have
/// (a term key two terms share, or a row written by hand) is not answered, in either of
/// the model's tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_row_whose_event_does_not_match_is_not_answered() {
    use keyledger::ledger::trail::{term_key, Scope, TrailQuery};
    use sqlx::Connection as _;
    let b = Sqlite::new();
    let mut store = b.store().await;
    let events = vec![
        call("Encrypt", Some("k1"), None, true, "alice", "us-east-1", 100),
        call("Encrypt", Some("k1"), None, true, "alice", "eu-west-1", 110),
        call("Encrypt", Some("k1"), None, true, "alice", "eu-west-1", 120),
    ];
    store.append(&[&batch(events)]).await.unwrap();
    drop(store);
    // Events 2 and 3 are another region's; file them under us-east-1's every-event term.
    let east = term_key("111122223333/us-east-1/*");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", b.path.display()))
        .await
        .unwrap();
    for (table, position, second) in [("trail_index", 2, 110), ("trail_recent", 3, 120)] {
        sqlx::query(&format!(
            "INSERT INTO {table} (term_key, time_ns, position) VALUES (?, ?, ?)"
        ))
        .bind(east)
        .bind(second * 1_000_000_000i64)
        .bind(position)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let reader = b.reader().await;
    let query = |limit| TrailQuery {
        scope: Scope {
            account: "111122223333".into(),
            region: "us-east-1".into(),
        },
        filters: vec![],
        start_ns: None,
        end_ns: None,
        before: None,
        up_to: None,
        limit,
    };
    let positions = |limit| {
        let reader = reader.clone();
        async move {
            let hits = reader.trail(&query(limit)).await.unwrap();
            hits.iter().map(|h| h.position).collect::<Vec<u64>>()
        }
    };
    assert_eq!(positions(10).await, [1]);
    // A row for an event the log does not have, newest of all, still takes a place in its
    // table's read: a page of one must go on below it, not take the table for exhausted.
    sqlx::query("DELETE FROM trail_index")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO trail_recent (term_key, time_ns, position) VALUES (?, ?, 50)")
        .bind(east)
        .bind(999_000_000_000i64)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(positions(1).await, [1]);
    assert_eq!(positions(10).await, [1]);
    // A row filing event 1 at a time it does not have cannot bring it into a time range.
    sqlx::query("INSERT INTO trail_index (term_key, time_ns, position) VALUES (?, ?, 1)")
        .bind(east)
        .bind(5_000_000_000_000i64)
        .execute(&mut conn)
        .await
        .unwrap();
    let later = TrailQuery {
        start_ns: Some(4_000_000_000_000),
        ..query(10)
    };
    let hits = reader.trail(&later).await.unwrap();
    let later_positions: Vec<u64> = hits.iter().map(|h| h.position).collect();
    assert_eq!(later_positions, Vec::<u64>::new());
}

macro_rules! conformance {
    ($backend:ident, $new:expr) => {
        mod $backend {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn appends_get_gap_free_positions_and_an_intact_chain() {
                super::appends_get_gap_free_positions_and_an_intact_chain($new).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_conflict_keeps_only_its_own_append_out() {
                super::a_conflict_keeps_only_its_own_append_out($new).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn two_writers_never_fork_the_chain_nor_share_a_stream_version() {
                super::two_writers_never_fork_the_chain_nor_share_a_stream_version($new).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn streams_and_the_log_read_back_in_order() {
                super::streams_and_the_log_read_back_in_order($new).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_tail_wakes_on_appends_from_any_writer() {
                super::the_tail_wakes_on_appends_from_any_writer($new).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_chain_continues_across_restarts() {
                super::the_chain_continues_across_restarts($new).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_commit_that_reported_an_error_but_landed_counts_as_committed() {
                super::a_commit_that_reported_an_error_but_landed_counts_as_committed($new).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn shredding_keys_are_kept_and_destroyed_with_their_events() {
                super::shredding_keys_are_kept_and_destroyed_with_their_events($new).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_trail_tree_and_checkpoints_follow_the_log() {
                super::the_trail_tree_and_checkpoints_follow_the_log($new).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn trail_queries_select_the_same_events_newest_first() {
                super::trail_queries_select_the_same_events_newest_first($new).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn trail_queries_read_folded_and_staged_events_alike() {
                super::trail_queries_read_folded_and_staged_events_alike($new).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn billing_and_compliance_reports_read_the_same_calls() {
                super::billing_and_compliance_reports_read_the_same_calls($new).await
            }
        }
    };
}

conformance!(sqlite, Sqlite::new());
conformance!(memory, Memory::default());
conformance!(
    postgres,
    match Postgres::new(module_path!()) {
        Some(backend) => backend,
        None => return,
    }
);

/// Recovery after SIGKILL (a store on disk only): a child process appends as fast as it can
/// and is killed mid-flight; the file reopens with an intact, gap-free chain that goes on.
#[test]
fn sqlite_recovers_after_sigkill_mid_append() {
    const CHILD: &str = "KEYLEDGER_CONFORMANCE_CHILD_DB";
    if let Ok(path) = std::env::var(CHILD) {
        // The child: append forever, one small group commit after another.
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let mut store = SqliteLedger::open(std::path::Path::new(&path), vec![])
                .await
                .unwrap()
                .store;
            for i in 0u64.. {
                let batches: Vec<AppendBatch> = (0..8)
                    .map(|j| batch(vec![event(None, &format!("{i}/{j}"))]))
                    .collect();
                let refs: Vec<&AppendBatch> = batches.iter().collect();
                store.append(&refs).await.unwrap();
            }
        });
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    for round in 0..3 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sqlite_recovers_after_sigkill_mid_append",
                "--nocapture",
            ])
            .env(CHILD, &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let mut store = SqliteLedger::open(&path, vec![]).await.unwrap().store;
            let reader = SqliteLedger::open_read_only(&path).await.unwrap();
            let events = all_events(&reader).await;
            assert!(events.len() > round * 8, "the child appended something");
            assert_chain(&events);
            let head = store.head().await.unwrap();
            let outcomes = store
                .append(&[&batch(vec![event(None, "after the kill")])])
                .await
                .unwrap();
            assert_eq!(outcomes, vec![Ok(head.position + 1..head.position + 2)]);
        });
    }
    // And the offline verifier agrees: chain, positions and columns.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let head = runtime.block_on(async {
        SqliteLedger::open_read_only(&path)
            .await
            .unwrap()
            .head()
            .await
            .unwrap()
    });
    // verify wants every event under a signed checkpoint: sign one, as the server would.
    let signer = TestSigner::new();
    runtime.block_on(async {
        let mut store = SqliteLedger::open(&path, vec![]).await.unwrap().store;
        store.write_checkpoint(&signer).await.unwrap();
    });
    let options = replay::VerifyOptions {
        vkey: Some(signer.1.clone()),
        saved_checkpoint: None,
    };
    let verified = runtime
        .block_on(replay::verify_ledger(&path, &options, &mut |_, _| {}))
        .unwrap();
    assert_eq!((verified.events, verified.head), (head.position, head.hash));
}

/// Replay determinism on PostgreSQL: every read model rebuilt from the log alone (as a node
/// does at open when a model is not at the head) holds exactly the rows the live appends
/// wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_read_models_rebuilt_from_the_log_equal_the_live_ones() {
    use sqlx::Connection as _;
    let Some(b) = Postgres::new("postgres_read_models_rebuilt_from_the_log_equal_the_live_ones")
    else {
        return;
    };
    let mut store = b.store().await;
    for i in 0..40i64 {
        let key = format!("k{}", i % 3);
        let error = (i % 7 == 0).then_some("AccessDeniedException");
        let name = ["Encrypt", "Decrypt", "DescribeKey", "GenerateDataKey"][i as usize % 4];
        let batch = batch(vec![call(
            name,
            Some(&key),
            error,
            false,
            "alice",
            "us-east-1",
            1_700_000_000 + i * 3600,
        )]);
        store.append(&[&batch]).await.unwrap();
    }
    // Past the trail index's first block boundary, in batches: some of its rows folded, the
    // newest staged (what is where depends on positions only, live or rebuilt).
    let past_a_block = keyledger::projections::trail_index::FOLD_EVERY as i64 + 100;
    for first in (40..past_a_block).step_by(50) {
        let events = (first..first + 50)
            .map(|i| {
                let key = format!("k{}", i % 3);
                call(
                    "Encrypt",
                    Some(&key),
                    None,
                    true,
                    "bob",
                    "us-east-1",
                    1_700_000_000 + i,
                )
            })
            .collect();
        store.append(&[&batch(events)]).await.unwrap();
    }
    drop(store);
    let models = keyledger::projections::read_models();
    let tables: Vec<&str> = models
        .iter()
        .flat_map(|m| m.tables().iter().copied())
        .collect();
    let dump = || async {
        let mut conn = sqlx::PgConnection::connect(&b.url).await.unwrap();
        let mut out = Vec::new();
        for table in &tables {
            let rows: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT t::text FROM {table} AS t ORDER BY t::text"
            ))
            .fetch_all(&mut conn)
            .await
            .unwrap();
            out.push((table.to_string(), rows));
        }
        out
    };
    let live = dump().await;
    // Usage events only: the tables folded from them hold rows (the key tables need lifecycle events).
    for table in [
        "key_usage_by_operation",
        "trail_index",
        "trail_recent",
        "billing_requests",
        "compliance_requests",
    ] {
        assert!(
            live.iter().any(|(t, rows)| t == table && !rows.is_empty()),
            "{table} holds rows: {live:?}"
        );
    }
    // Opening a store rebuilds each model that is not at the head.
    let mut conn = sqlx::PgConnection::connect(&b.url).await.unwrap();
    sqlx::query("DELETE FROM read_model_checkpoints")
        .execute(&mut conn)
        .await
        .unwrap();
    drop(b.store().await);
    assert_eq!(dump().await, live);
}
