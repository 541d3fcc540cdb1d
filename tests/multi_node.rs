//! Two real keyledger processes on one PostgreSQL database (`.ci/postgres`), driven by the
//! real `aws-sdk-kms` client: what one node does, the other sees; concurrent changes to one
//! key never share a version; a node killed mid-flight loses no answered call.

mod common;
#[path = "common/postgres.rs"]
mod test_database;

use aws_sdk_kms::operation::RequestId as _;
use aws_sdk_kms::primitives::Blob;
use common::Server;
use sqlx::Connection as _;
use std::time::{Duration, Instant};

/// Node A (bootstraps the database) and node B (its own data dir, A's root key).
struct Nodes {
    _dir: tempfile::TempDir,
    url: String,
    a: Server,
    b: Server,
}

async fn two_nodes(test: &str) -> Option<Nodes> {
    let url = test_database::new_database(test)?;
    let dir = tempfile::tempdir().unwrap();
    let a = Server::start_with(&dir.path().join("a"), &["--database", &url]).await;
    let root_key = dir.path().join("a").join("root.key");
    let b = Server::start_with(
        &dir.path().join("b"),
        &[
            "--database",
            &url,
            "--root-key-file",
            root_key.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(
        a.credentials.account_id, b.credentials.account_id,
        "B found A's bootstrap instead of making its own"
    );
    Some(Nodes {
        _dir: dir,
        url,
        a,
        b,
    })
}

/// Wait until `check` passes (other nodes' changes arrive within the tail's lag).
async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> Duration {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if check().await {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{what}: not seen within 5 s");
}

async fn events(url: &str, stream: &str) -> Vec<(i64, i64, String)> {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_as(
        "SELECT position, stream_version, event_name FROM events WHERE stream = $1 ORDER BY position",
    )
    .bind(stream)
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

/// Encrypt `text` on one node, decrypt it on the other.
async fn round_trip(on: &aws_sdk_kms::Client, off: &aws_sdk_kms::Client, key: &str, text: &[u8]) {
    let sealed = on
        .encrypt()
        .key_id(key)
        .plaintext(Blob::new(text.to_vec()))
        .send()
        .await
        .unwrap();
    let opened = off
        .decrypt()
        .ciphertext_blob(sealed.ciphertext_blob.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext.unwrap().as_ref(), text);
}

fn verify(url: &str) -> (bool, String) {
    let out = std::process::Command::new(common::BIN)
        .args(["verify", "--database", url])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `verify` passes once the newest checkpoint covers the log (within about a second).
async fn verified(url: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        let (ok, out) = verify(url);
        if ok {
            return out;
        }
        last = out;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("verify kept failing: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_node_does_the_other_sees() {
    let Some(nodes) = two_nodes("what_one_node_does_the_other_sees").await else {
        return;
    };
    let (a, b) = (&nodes.a.client, &nodes.b.client);
    // CreateKey on A, DescribeKey on B.
    let key = a
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let lag = eventually("A's new key on B", || async {
        b.describe_key().key_id(&key).send().await.is_ok()
    })
    .await;
    eprintln!("a key created on A was described on B after {lag:?}");
    // Encrypt on A, Decrypt on B (and the other way round).
    round_trip(a, b, &key, b"from A").await;
    round_trip(b, a, &key, b"from B").await;
    // Disable on A: once the lag has passed, Encrypt on B fails as AWS answers it.
    a.disable_key().key_id(&key).send().await.unwrap();
    eventually("A's DisableKey on B", || async {
        match b
            .encrypt()
            .key_id(&key)
            .plaintext(Blob::new(b"x".to_vec()))
            .send()
            .await
        {
            Ok(_) => false,
            Err(e) => {
                let code = common::sdk_code(e);
                assert_eq!(code, "DisabledException");
                true
            }
        }
    })
    .await;
    // Scheduled deletion on B shows on A, and the key's stream has one event per version.
    nodes
        .b
        .client
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    eventually("B's deletion on A", || async {
        let state = a
            .describe_key()
            .key_id(&key)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_state;
        state == Some(aws_sdk_kms::types::KeyState::PendingDeletion)
    })
    .await;
    let stream = events(&nodes.url, &format!("key/{key}")).await;
    let versions: Vec<i64> = stream.iter().map(|(_, v, _)| *v).collect();
    assert_eq!(versions, (1..=versions.len() as i64).collect::<Vec<_>>());
    // Both nodes are caught up: ready, and their lag gauges say so.
    let http = reqwest::Client::new();
    for node in [&nodes.a, &nodes.b] {
        eventually("a caught-up node", || async {
            let ready = http
                .get(format!("{}/readyz", node.endpoint))
                .send()
                .await
                .unwrap();
            let status = ready.status();
            let body: serde_json::Value = ready.json().await.unwrap();
            status == 200 && body["status"] == "ready" && body["tail_lag_events"] == 0
        })
        .await;
        let metrics = http
            .get(format!("{}/metrics", node.endpoint))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("\nkeyledger_tail_lag_events 0\n"),
            "{metrics}"
        );
    }
    verified(&nodes.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rotations_from_both_nodes_take_distinct_versions() {
    let Some(nodes) =
        two_nodes("concurrent_rotations_from_both_nodes_take_distinct_versions").await
    else {
        return;
    };
    let (a, b) = (nodes.a.client.clone(), nodes.b.client.clone());
    let key = a
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    eventually("the key on B", || async {
        b.describe_key().key_id(&key).send().await.is_ok()
    })
    .await;
    // Both nodes rotate the same key at once, four times each.
    let rotate = |client: aws_sdk_kms::Client, key: String| async move {
        let mut done = 0;
        for _ in 0..4 {
            if client
                .rotate_key_on_demand()
                .key_id(&key)
                .send()
                .await
                .is_ok()
            {
                done += 1;
            }
        }
        done
    };
    let (on_a, on_b) = tokio::join!(
        tokio::spawn(rotate(a.clone(), key.clone())),
        tokio::spawn(rotate(b.clone(), key.clone()))
    );
    let rotations = on_a.unwrap() + on_b.unwrap();
    assert_eq!(
        rotations, 8,
        "every rotation succeeded (conflicts are decided again)"
    );
    let stream = events(&nodes.url, &format!("key/{key}")).await;
    let versions: Vec<i64> = stream.iter().map(|(_, v, _)| *v).collect();
    assert_eq!(
        versions,
        (1..=versions.len() as i64).collect::<Vec<_>>(),
        "no duplicate, no gap"
    );
    let rotated = stream
        .iter()
        .filter(|(_, _, name)| name == "RotateKeyOnDemand")
        .count();
    assert_eq!(rotated, 8, "no lost rotation: {stream:?}");
    // Both nodes agree on the key's rotations.
    for client in [&a, &b] {
        let listed = eventually("all rotations listed", || async {
            client
                .list_key_rotations()
                .key_id(&key)
                .send()
                .await
                .unwrap()
                .rotations
                .unwrap_or_default()
                .len()
                == 8
        })
        .await;
        let _ = listed;
    }
    verified(&nodes.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_flight_loses_no_answered_call() {
    let Some(nodes) = two_nodes("a_node_killed_mid_flight_loses_no_answered_call").await else {
        return;
    };
    let key = nodes
        .a
        .client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let (a, b) = (nodes.a.client.clone(), nodes.b.client.clone());
    eventually("the key on B", || async {
        b.describe_key().key_id(&key).send().await.is_ok()
    })
    .await;
    // Encrypt load on both nodes; each answered call's request id is kept.
    let load = |client: aws_sdk_kms::Client, key: String| async move {
        let mut answered = Vec::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(1500) {
            match client
                .encrypt()
                .key_id(&key)
                .plaintext(Blob::new(b"load".to_vec()))
                .send()
                .await
            {
                Ok(out) => answered.push(out.request_id().unwrap().to_owned()),
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
        answered
    };
    let mut tasks = Vec::new();
    for _ in 0..4 {
        tasks.push(tokio::spawn(load(a.clone(), key.clone())));
        tasks.push(tokio::spawn(load(b.clone(), key.clone())));
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let Nodes {
        _dir,
        url,
        a: node_a,
        b: node_b,
    } = nodes;
    node_a.kill(); // SIGKILL, mid-flight
    let mut answered = Vec::new();
    for task in tasks {
        answered.extend(task.await.unwrap());
    }
    assert!(answered.len() > 20, "the load ran: {}", answered.len());
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let recorded: std::collections::HashSet<String> = sqlx::query_scalar::<_, Option<String>>(
        "SELECT convert_from(data, 'UTF8')::json->>'request_id' FROM events WHERE event_name = 'Encrypt'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .flatten()
    .collect();
    let missing: Vec<&String> = answered.iter().filter(|r| !recorded.contains(*r)).collect();
    assert!(missing.is_empty(), "answered but not recorded: {missing:?}");
    // B goes on, and the whole log verifies (B checkpoints what A appended too).
    node_b
        .client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"after".to_vec()))
        .send()
        .await
        .unwrap();
    verified(&url).await;
}

/// `keyledger_quota_nodes` on a node's `/metrics`.
async fn quota_nodes(node: &Server) -> Option<u64> {
    let text = reqwest::get(format!("{}/metrics", node.endpoint))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("keyledger_quota_nodes "))
        .and_then(|n| n.trim().parse().ok())
}

/// CreateKey calls on `node` in a burst, without the SDK's retries: how many got through,
/// and how long the burst took (the bucket refills meanwhile).
async fn create_key_burst(node: &Server, calls: usize) -> (usize, Duration) {
    let started = Instant::now();
    let mut created = 0;
    for _ in 0..calls {
        let response = common::signed_kms_call(
            &node.endpoint,
            &node.credentials,
            "CreateKey",
            &serde_json::json!({}),
        )
        .await;
        match response.status().as_u16() {
            200 => created += 1,
            400 => {
                let body: serde_json::Value = response.json().await.unwrap();
                assert_eq!(body["__type"], "ThrottlingException", "{body}");
            }
            other => panic!("CreateKey answered {other}"),
        }
    }
    (created, started.elapsed())
}

/// What a token bucket of `burst` refilled at `per_second` grants, at most, over a burst
/// of sequential calls that took `took` (on a loaded machine a burst can span refills).
fn at_most(burst: f64, per_second: f64, took: Duration) -> usize {
    (burst + per_second * took.as_secs_f64()).floor() as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_quotas_are_shared_among_the_nodes_on_one_database() {
    let Some(url) = test_database::new_database("quotas_shared") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let on = [("KEYLEDGER_QUOTAS", "on")];
    let a = Server::start_env(&dir.path().join("a"), &["--database", &url], &on).await;
    let root_key = dir.path().join("a").join("root.key");
    let b = Server::start_env(
        &dir.path().join("b"),
        &[
            "--database",
            &url,
            "--root-key-file",
            root_key.to_str().unwrap(),
        ],
        &on,
    )
    .await;
    let started = Instant::now();
    while quota_nodes(&a).await != Some(2) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "A never counted B"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // CreateKey is 5 per second per account; with two nodes A's share is 2.5, so its
    // burst is two calls (more only as the bucket refills during the burst), not five.
    let (on_a, took) = create_key_burst(&a, 8).await;
    assert!(
        (2..=at_most(2.5, 2.5, took).max(2)).contains(&on_a),
        "A allowed {on_a} of 8 in {took:?}"
    );
    // With B gone A takes the whole quota again.
    b.kill();
    let started = Instant::now();
    while quota_nodes(&a).await != Some(1) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "A still counts B"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // let A's bucket fill
    let (alone, took) = create_key_burst(&a, 8).await;
    assert!(
        (5..=at_most(5.0, 5.0, took)).contains(&alone),
        "A alone allowed {alone} of 8 in {took:?}"
    );
    a.stop();
}
