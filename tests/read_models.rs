//! SQL read models kept in the append transaction: what the live server wrote equals,
//! row for row, what `keyledger rebuild` folds from the log alone; and `key_usage` says
//! what the calls did.

mod common;

use aws_sdk_kms::primitives::Blob;
use common::Server;
use std::path::Path;

/// Every row of every read-model table and the checkpoints, as text, in a stable order.
async fn dump(data_dir: &Path) -> Vec<(String, Vec<String>)> {
    use sqlx::Row;
    let mut conn = common::ledger_connection(data_dir, true).await;
    let mut out = Vec::new();
    for (table, order) in [
        ("key_usage", "key_id"),
        ("key_usage_by_operation", "key_id, operation"),
        ("trail_index", "term_key, time_ns, position"),
        ("trail_recent", "position, term_key"),
        (
            "billing_requests",
            "account, day, key_id, operation, pair_spec, outcome",
        ),
        ("billing_keys", "key_id"),
        ("billing_key_changes", "key_id, seq"),
        ("compliance_key_events", "key_id, position"),
        (
            "compliance_requests",
            "day, account, principal, key_id, cryptographic, outcome",
        ),
        ("read_model_checkpoints", "name"),
    ] {
        let rows = sqlx::query(&format!("SELECT * FROM {table} ORDER BY {order}"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for row in rows {
            let values = (0..row.len())
                .map(|i| {
                    row.try_get::<Option<String>, _>(i)
                        .map(|v| v.unwrap_or_else(|| "NULL".into()))
                        .or_else(|_| row.try_get::<Option<i64>, _>(i).map(|v| format!("{v:?}")))
                        .unwrap()
                })
                .collect();
            out.push((table.to_owned(), values));
        }
    }
    out
}

async fn new_key(kms: &aws_sdk_kms::Client) -> String {
    let created = kms.create_key().send().await.unwrap();
    created.key_metadata.unwrap().key_id
}

fn rebuild(data_dir: &Path, name: &str) -> (bool, String) {
    common::command(&["rebuild", name], data_dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_usage_is_kept_live_and_a_rebuild_gives_the_same_rows() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let server = Server::start(&dir).await;
    let kms = &server.client;
    let a = new_key(kms).await;
    let b = new_key(kms).await;
    let unused = new_key(kms).await;
    let mut blob = None;
    for i in 0..5 {
        let out = kms
            .encrypt()
            .key_id(&a)
            .plaintext(Blob::new(format!("secret {i}")))
            .send()
            .await
            .unwrap();
        blob = out.ciphertext_blob;
    }
    let blob = blob.unwrap();
    kms.decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await
        .unwrap();
    // ReEncrypt uses two keys: both are recorded.
    let moved = kms
        .re_encrypt()
        .ciphertext_blob(blob)
        .destination_key_id(&b)
        .send()
        .await
        .unwrap();
    assert!(moved.ciphertext_blob.is_some());
    // A failed call is counted, but is no "last use".
    kms.disable_key().key_id(&b).send().await.unwrap();
    assert!(kms
        .encrypt()
        .key_id(&b)
        .plaintext(Blob::new("no"))
        .send()
        .await
        .is_err());
    kms.describe_key().key_id(&unused).send().await.unwrap();
    kms.schedule_key_deletion()
        .key_id(&unused)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    server.stop();

    let live = dump(&dir).await;
    let row = |table: &str, key: &str, op: Option<&str>| {
        live.iter()
            .find(|(t, v)| t == table && v[0] == key && op.is_none_or(|op| v[1] == op))
            .map(|(_, v)| v.clone())
    };
    let a_usage = row("key_usage", &a, None).expect("a has a usage row");
    assert_eq!(
        a_usage[2], "ReEncrypt",
        "a's last successful cryptographic operation"
    );
    let b_usage = row("key_usage", &b, None).expect("b has a usage row");
    assert_eq!(
        b_usage[2], "ReEncrypt",
        "the failed Encrypt is not b's last use"
    );
    let unused_usage = row("key_usage", &unused, None).expect("CreateKey named it");
    assert_eq!(
        unused_usage[1..],
        ["NULL", "NULL", "NULL", "NULL"],
        "never used"
    );
    assert_eq!(
        row("key_usage_by_operation", &a, Some("Encrypt")).unwrap()[2..4],
        ["Some(5)", "Some(0)"]
    );
    assert_eq!(
        row("key_usage_by_operation", &b, Some("Encrypt")).unwrap()[2..],
        ["Some(0)", "Some(1)", "NULL", "NULL", "NULL"],
        "failed only: no last use"
    );
    // The checkpoint stands at the log's head.
    let head = common::stored_events(&dir).await.len();
    assert!(live.contains(&(
        "read_model_checkpoints".into(),
        vec!["key_usage".into(), format!("Some({head})")]
    )));

    let (ok, out) = rebuild(&dir, "all");
    assert!(ok, "{out}");
    for model in ["key_usage", "trail_index", "billing", "compliance"] {
        assert!(
            out.contains(&format!("rebuilt {model}: {head} events")),
            "{out}"
        );
    }
    // The live trail index holds rows (staged: the log is shorter than a block), so the
    // equality below is about something.
    let trail_rows = live.iter().filter(|(t, _)| t == "trail_recent").count();
    assert!(trail_rows > 10 * 5, "{trail_rows} trail_index rows");
    for model in ["trail_index", "billing", "compliance"] {
        assert!(live.contains(&(
            "read_model_checkpoints".into(),
            vec![model.into(), format!("Some({head})")]
        )));
    }
    // Billing and compliance hold rows too: the keys, their requests, their lifecycle facts.
    for table in [
        "billing_requests",
        "billing_keys",
        "billing_key_changes",
        "compliance_key_events",
        "compliance_requests",
    ] {
        assert!(live.iter().any(|(t, _)| t == table), "{table} is empty");
    }
    assert_eq!(
        dump(&dir).await,
        live,
        "the rebuilt model equals the live one, row for row"
    );

    let (ok, out) = rebuild(&dir, "no_such_model");
    assert!(!ok);
    assert!(
        out.contains("the read models are key_usage, trail_index, billing, compliance"),
        "{out}"
    );
}

/// A read model whose checkpoint is not at the log's head (dropped, or written by an older
/// build) is rebuilt when the ledger opens, before anything is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_behind_the_log_is_rebuilt_at_start() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let server = Server::start(&dir).await;
    let key = new_key(&server.client).await;
    server
        .client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap();
    server.stop();
    let live = dump(&dir).await;
    {
        let mut conn = common::ledger_connection(&dir, false).await;
        sqlx::raw_sql(
            "DELETE FROM key_usage_by_operation; DELETE FROM trail_recent; \
             UPDATE read_model_checkpoints SET position = 1",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let server = Server::start(&dir).await;
    server.stop();
    assert_eq!(dump(&dir).await, live);
}
