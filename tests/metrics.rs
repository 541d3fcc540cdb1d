//! `/metrics`: requests by operation and outcome with latency histograms, the ledger
//! writer's batch sizes, commit times and failures, keys by state — in Prometheus's text
//! format, with labels that never carry caller text.

mod common;

use aws_sdk_kms::primitives::Blob;
use common::started_server;
use std::collections::BTreeMap;

/// Every sample of the exposition, `name{labels}` → value; panics on a malformed line.
async fn samples(endpoint: &str) -> BTreeMap<String, f64> {
    let response = reqwest::get(format!("{endpoint}/metrics")).await.unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4"
    );
    let text = response.text().await.unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect(line);
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        assert!(
            series[..name_end]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        assert!(
            out.insert(series.to_owned(), value).is_none(),
            "{series} twice"
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_commits_and_keys_by_state() {
    let (_dir, s) = started_server().await;
    let kms = &s.client;
    let key = common::create_key(kms, None).await;
    kms.encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"counted".to_vec()))
        .send()
        .await
        .unwrap();
    let missing = kms
        .describe_key()
        .key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
        .send()
        .await;
    assert!(missing.is_err());
    let disabled = common::create_key(kms, None).await;
    kms.disable_key().key_id(&disabled).send().await.unwrap();
    // An operation that is not one: labelled `unknown`, not with the caller's text.
    let unknown = common::signed_kms_call(
        &s.endpoint,
        &s.credentials,
        "NoSuchOperation",
        &serde_json::json!({}),
    )
    .await;
    assert_eq!(unknown.status(), 400);

    let m = samples(&s.endpoint).await;
    let get = |series: &str| {
        m.get(series)
            .copied()
            .unwrap_or_else(|| panic!("no {series}"))
    };
    assert_eq!(
        get(r#"keyledger_requests_total{operation="Encrypt",outcome="ok"}"#),
        1.0
    );
    assert_eq!(
        get(r#"keyledger_requests_total{operation="DescribeKey",outcome="NotFoundException"}"#),
        1.0
    );
    assert_eq!(
        get(r#"keyledger_requests_total{operation="CreateKey",outcome="ok"}"#),
        2.0
    );
    assert_eq!(
        get(r#"keyledger_requests_total{operation="unknown",outcome="UnknownOperationException"}"#),
        1.0
    );
    assert!(
        !m.keys().any(|k| k.contains("NoSuchOperation")),
        "caller text in a label"
    );
    assert_eq!(
        get(r#"keyledger_request_duration_seconds_count{operation="Encrypt"}"#),
        1.0
    );
    assert_eq!(
        get(r#"keyledger_request_duration_seconds_bucket{operation="Encrypt",le="+Inf"}"#),
        1.0
    );
    // Every recorded call went through a commit; the histogram counts each group.
    let commits = get("keyledger_ledger_batch_events_count");
    assert!(commits >= 5.0, "{commits} commits");
    assert!(get("keyledger_ledger_batch_events_sum") >= commits);
    assert_eq!(get("keyledger_ledger_commit_seconds_count"), commits);
    assert_eq!(get("keyledger_ledger_append_failures_total"), 0.0);
    assert_eq!(get(r#"keyledger_keys{state="Enabled"}"#), 1.0);
    assert_eq!(get(r#"keyledger_keys{state="Disabled"}"#), 1.0);
    assert_eq!(get(r#"keyledger_keys{state="PendingDeletion"}"#), 0.0);
    // Probes and native routes have their route's name.
    let _ = reqwest::get(format!("{}/healthz", s.endpoint))
        .await
        .unwrap();
    let m = samples(&s.endpoint).await;
    assert!(m.contains_key(r#"keyledger_requests_total{operation="Health",outcome="ok"}"#));
    s.stop();
}
