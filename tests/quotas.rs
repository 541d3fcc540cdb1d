//! Request quotas (issue 13) against the real aws-sdk-kms client: a burst over a tiny quota
//! is `ThrottlingException` (HTTP 400, AWS's message), recorded in the ledger and counted
//! at `/metrics`; the SDK's standard retries get through it; other accounts and classes are
//! not throttled by it; failed unauthenticated attempts are bounded per source address.
mod common;

use aws_sdk_kms::primitives::Blob;
use common::{AdminCredentials, Server};
use std::path::Path;
use std::time::Duration;

const THROTTLED: &str = "ThrottlingException";

/// A server whose `[quotas]` table is `table`, with quotas on (the harness turns them off).
async fn server_with_quotas(root: &Path, table: &str) -> Server {
    let config = root.join("keyledger.toml");
    std::fs::write(&config, format!("[quotas]\n{table}\n")).unwrap();
    Server::start_env(
        &root.join("data"),
        &["--config", config.to_str().unwrap()],
        &[("KEYLEDGER_QUOTAS", "on")],
    )
    .await
}

async fn metrics(server: &Server) -> String {
    reqwest::get(format!("{}/metrics", server.endpoint))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn counter(metrics: &str, line_start: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {line_start} in {metrics}"))
}

/// A second account through the running server, its root credentials.
fn create_account(server: &Server, dir: &Path, account: &str) -> AdminCredentials {
    let out = dir.join(format!("{account}.json"));
    let (ok, output) = common::command(
        &[
            "admin",
            "create-account",
            "--account-id",
            account,
            "--out",
            out.to_str().unwrap(),
            "--endpoint",
            &server.endpoint,
        ],
        &server.data_dir,
    );
    assert!(ok, "{output}");
    serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
}

/// `n` CreateKeys at once: how many succeeded, and the error codes of the others.
async fn create_key_burst(kms: &aws_sdk_kms::Client, n: usize) -> (usize, Vec<String>) {
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..n {
        let kms = kms.clone();
        calls.spawn(async move { kms.create_key().send().await });
    }
    let mut ok = 0;
    let mut errors = Vec::new();
    while let Some(result) = calls.join_next().await {
        match result.unwrap() {
            Ok(_) => ok += 1,
            failed => errors.push(common::error_code(failed)),
        }
    }
    (ok, errors)
}

fn throttled_in_trail(trail: &[serde_json::Value], event_name: &str) -> usize {
    trail
        .iter()
        .filter(|r| r["eventName"] == event_name && r["errorCode"] == THROTTLED)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_quota_is_throttled_recorded_counted_and_the_sdk_retries_through_it() {
    let root = tempfile::tempdir().unwrap();
    let server = server_with_quotas(root.path(), "CreateKey = 2\nsymmetric = 50").await;
    let kms = &server.client; // the harness's client: retries disabled
    let key = common::create_key(kms, None).await;
    tokio::time::sleep(Duration::from_millis(1100)).await; // the bucket full again

    // (a) Without retries, a burst beyond the quota (2 per second, burst 2) is throttled.
    let (ok, errors) = create_key_burst(kms, 8).await;
    assert!((1..=3).contains(&ok), "{ok} of 8 succeeded: {errors:?}");
    assert!(errors.len() >= 5, "{errors:?}");
    assert!(errors.iter().all(|e| e == THROTTLED), "{errors:?}");

    // AWS's shape on the wire: HTTP 400, the type and AWS's message.
    let response = common::signed_kms_call(
        &server.endpoint,
        &server.credentials,
        "CreateKey",
        &serde_json::json!({}),
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["__type"], THROTTLED, "{body}");
    assert_eq!(
        body["message"],
        "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."
    );

    // (c) Other classes of the same account are not throttled by the CreateKey burst …
    kms.describe_key().key_id(&key).send().await.unwrap();
    for i in 0..5 {
        kms.encrypt()
            .key_id(&key)
            .plaintext(Blob::new(format!("not throttled {i}")))
            .send()
            .await
            .unwrap();
    }
    // … nor is another account's CreateKey.
    let other = create_account(&server, root.path(), "210987654321");
    let other_kms = server.client_for(
        &other.region,
        &other.access_key_id,
        &other.secret_access_key,
    );
    let (ok, errors) = create_key_burst(&other_kms, 2).await;
    assert_eq!((ok, errors.len()), (2, 0), "{errors:?}");

    // (b) With the SDK's standard retry config, the same burst gets through: the SDK backs
    // off on ThrottlingException (more attempts than the default 3, for 8 calls at 2/s).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let retrying = aws_sdk_kms::Client::from_conf(
        kms.config()
            .to_builder()
            .retry_config(aws_sdk_kms::config::retry::RetryConfig::standard().with_max_attempts(10))
            .build(),
    );
    let started = std::time::Instant::now();
    let (ok, errors) = create_key_burst(&retrying, 8).await;
    assert_eq!((ok, errors.len()), (8, 0), "{errors:?}");
    // 8 keys at 2 per second after a burst of 2: the retries waited.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // (d) Every throttled call is in the ledger as a failed CreateKey, and counted.
    let trail = common::trail(&server.data_dir).await;
    let recorded = throttled_in_trail(&trail, "CreateKey");
    let metrics = metrics(&server).await;
    let counted = counter(
        &metrics,
        "keyledger_throttled_requests_total{class=\"CreateKey\"}",
    );
    assert!(recorded >= 6, "{recorded} throttled CreateKeys recorded");
    assert_eq!(recorded as u64, counted, "{metrics}");
    assert_eq!(
        counter(
            &metrics,
            "keyledger_throttled_requests_total{class=\"symmetric\"}"
        ),
        0
    );
    let sample = trail.iter().find(|r| r["errorCode"] == THROTTLED).unwrap();
    assert_eq!(
        sample["userIdentity"]["accountId"],
        server.credentials.account_id.as_str()
    );
    assert_eq!(sample["errorMessage"], body["message"]);
    // What is recorded of a throttled call is a CloudTrail record like any other.
    common::check_schemas(&server.data_dir).await;
    // The other account's calls went to its own bucket: none of its calls was throttled.
    assert!(trail
        .iter()
        .filter(|r| r["userIdentity"]["accountId"] == "210987654321")
        .all(|r| r["errorCode"].is_null()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_class_is_the_keys_type_and_key_pairs_have_their_own() {
    let root = tempfile::tempdir().unwrap();
    let server = server_with_quotas(root.path(), "symmetric = 3\nkey_pair_ecc_nist_p256 = 1").await;
    let kms = &server.client;
    let key = common::create_key(kms, None).await;
    let hmac = common::create_key(
        kms,
        Some((
            aws_sdk_kms::types::KeySpec::Hmac256,
            aws_sdk_kms::types::KeyUsageType::GenerateVerifyMac,
        )),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Encrypt, GenerateMac (an HMAC key is symmetric) and GenerateRandom share one bucket.
    kms.encrypt()
        .key_id(&key)
        .plaintext(Blob::new("a"))
        .send()
        .await
        .unwrap();
    kms.generate_mac()
        .key_id(&hmac)
        .message(Blob::new("m"))
        .mac_algorithm(aws_sdk_kms::types::MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap();
    kms.generate_random()
        .number_of_bytes(16)
        .send()
        .await
        .unwrap();
    let over = kms
        .generate_data_key()
        .key_id(&key)
        .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
        .send()
        .await;
    assert_eq!(common::error_code(over), THROTTLED);
    // GenerateDataKeyPair has its own quota per KeyPairSpec, apart from the symmetric one.
    let pair = || {
        kms.generate_data_key_pair_without_plaintext()
            .key_id(&key)
            .key_pair_spec(aws_sdk_kms::types::DataKeyPairSpec::EccNistP256)
            .send()
    };
    pair().await.unwrap();
    assert_eq!(common::error_code(pair().await), THROTTLED);
    let metrics = metrics(&server).await;
    assert_eq!(
        counter(
            &metrics,
            "keyledger_throttled_requests_total{class=\"symmetric\"}"
        ),
        1
    );
    assert_eq!(
        counter(
            &metrics,
            "keyledger_throttled_requests_total{class=\"key_pair_ecc_nist_p256\"}"
        ),
        1
    );
    let trail = common::trail(&server.data_dir).await;
    assert_eq!(throttled_in_trail(&trail, "GenerateDataKey"), 1);
    assert_eq!(
        throttled_in_trail(&trail, "GenerateDataKeyPairWithoutPlaintext"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_unauthenticated_attempts_are_bounded_per_source_and_recorded_boundedly() {
    let root = tempfile::tempdir().unwrap();
    let server = server_with_quotas(root.path(), "unauthenticated = 1").await;
    let stranger = AdminCredentials {
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        ..server.credentials.clone()
    };
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (endpoint, stranger) = (server.endpoint.clone(), stranger.clone());
        calls.spawn(async move {
            let response =
                common::signed_kms_call(&endpoint, &stranger, "ListKeys", &serde_json::json!({}))
                    .await;
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap();
            (status, body["__type"].as_str().unwrap().to_owned())
        });
    }
    let mut codes = Vec::new();
    while let Some(done) = calls.join_next().await {
        let (status, code) = done.unwrap();
        assert_eq!(status, 400, "{code}");
        codes.push(code);
    }
    let throttled = codes.iter().filter(|c| *c == THROTTLED).count();
    assert!(throttled >= 8, "{codes:?}");
    assert!(
        codes
            .iter()
            .all(|c| c == THROTTLED || c == "UnrecognizedClientException"),
        "{codes:?}"
    );
    // The source's authenticated callers are not throttled by its failures.
    server.client.list_keys().send().await.unwrap();

    // The IAM endpoint shares the source's bucket, answered as IAM throttles (`Throttling`).
    let iam = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new(stranger.region.clone()))
            .endpoint_url(&server.endpoint)
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                &stranger.access_key_id,
                &stranger.secret_access_key,
                None,
                None,
                "stranger",
            ))
            .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
            .build(),
    );
    let refused = iam.list_users().send().await.unwrap_err();
    let refused = refused.into_service_error();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&refused),
        Some("Throttling"),
        "{refused:?}"
    );

    // Every unthrottled failure is recorded; of the throttled ones, the first of each run.
    let trail = common::trail(&server.data_dir).await;
    let recorded_unrecognized = trail
        .iter()
        .filter(|r| r["errorCode"] == "UnrecognizedClientException")
        .count();
    let recorded_throttled = throttled_in_trail(&trail, "ListKeys");
    assert_eq!(recorded_unrecognized, codes.len() - throttled);
    assert!(
        (1..=2).contains(&recorded_throttled),
        "{recorded_throttled} throttled attempts recorded"
    );
    common::check_schemas(&server.data_dir).await;
    let metrics = metrics(&server).await;
    // The 12 KMS attempts' throttled ones and the IAM one (unrecorded: the run went on).
    assert_eq!(
        counter(
            &metrics,
            "keyledger_throttled_requests_total{class=\"unauthenticated\"}"
        ),
        throttled as u64 + 1
    );
    assert_eq!(
        counter(&metrics, "keyledger_throttled_unrecorded_total"),
        (throttled + 1 - recorded_throttled) as u64
    );
}

#[tokio::test]
async fn quotas_turn_off_in_the_file_and_in_the_environment() {
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("keyledger.toml");
    std::fs::write(&config, "[quotas]\nenabled = false\nCreateKey = 1\n").unwrap();
    let args = ["--config", config.to_str().unwrap()];
    // `enabled = false` (KEYLEDGER_QUOTAS empty: unset) …
    let server =
        Server::start_env(&root.path().join("a"), &args, &[("KEYLEDGER_QUOTAS", "")]).await;
    let (ok, errors) = create_key_burst(&server.client, 6).await;
    assert_eq!((ok, errors.len()), (6, 0), "{errors:?}");
    drop(server);
    // … and KEYLEDGER_QUOTAS beats it.
    let server =
        Server::start_env(&root.path().join("b"), &args, &[("KEYLEDGER_QUOTAS", "on")]).await;
    let (ok, errors) = create_key_burst(&server.client, 6).await;
    assert!(
        ok <= 2 && errors.iter().all(|e| e == THROTTLED),
        "{ok} {errors:?}"
    );
}
