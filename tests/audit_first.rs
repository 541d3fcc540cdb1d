//! Audit-first: when the ledger cannot be written, the call fails with
//! KMSInternalException and no ciphertext, plaintext or data key leaves.

mod common;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use common::{client, error_code, stored_events, verify};
use keyledger::app::bootstrap::{open_with, Settings};
use keyledger::app::SystemClock;
use keyledger::domain::ids::Region;
use keyledger::ledger::{
    AppendBatch, AppendOutcome, CheckpointSigner, Head, LedgerStore, StoreError, StoredCheckpoint,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The real SQLite store, which fails every commit while `fail` is set.
struct FailingStore<S> {
    inner: S,
    fail: Arc<AtomicBool>,
}

impl<S: LedgerStore> LedgerStore for FailingStore<S> {
    async fn head(&mut self) -> Result<Head, StoreError> {
        self.inner.head().await
    }
    async fn append(&mut self, batches: &[&AppendBatch]) -> Result<Vec<AppendOutcome>, StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Storage(
                "injected failure: the disk is gone".into(),
            ));
        }
        self.inner.append(batches).await
    }
    async fn write_checkpoint(
        &mut self,
        signer: &dyn CheckpointSigner,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.inner.write_checkpoint(signer).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_answered_unaudited() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let fail = Arc::new(AtomicBool::new(false));
    let settings = Settings::local(dir.clone(), Region::parse("us-east-1").unwrap());
    let flag = fail.clone();
    let opened = open_with(
        &settings,
        move |store| FailingStore {
            inner: store,
            fail: flag,
        },
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let shared = Arc::new(keyledger::http::Shared::default());
    shared.set_ready(opened.service);
    let server = keyledger::http::serve(listener, shared, 1).unwrap();
    let handle = server.handle();
    tokio::spawn(server);

    let creds: common::AdminCredentials =
        serde_json::from_slice(&std::fs::read(&opened.credentials_path).unwrap()).unwrap();
    let kms = client(
        &endpoint,
        &creds.region,
        &creds.access_key_id,
        &creds.secret_access_key,
    );
    let key = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let blob = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"fine".to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let recorded = stored_events(&dir).await.len();

    fail.store(true, Ordering::SeqCst);
    let encrypt = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"unaudited".to_vec()))
        .send()
        .await;
    let raw = format!(
        "{:?}",
        encrypt
            .as_ref()
            .err()
            .and_then(|e| e.raw_response())
            .map(|r| r.status().as_u16())
    );
    assert_eq!(error_code(encrypt), "KMSInternalException");
    assert_eq!(raw, "Some(500)");
    assert_eq!(
        error_code(kms.decrypt().ciphertext_blob(blob.clone()).send().await),
        "KMSInternalException"
    );
    assert_eq!(
        error_code(
            kms.generate_data_key()
                .key_id(&key)
                .key_spec(DataKeySpec::Aes256)
                .send()
                .await
        ),
        "KMSInternalException"
    );
    assert_eq!(
        error_code(kms.generate_random().number_of_bytes(32).send().await),
        "KMSInternalException"
    );
    assert_eq!(
        error_code(kms.create_key().send().await),
        "KMSInternalException"
    );
    // The trail's own endpoints and the reports answer the same way: no evidence and no
    // report leaves unaudited, and the refusals are counted.
    for path in [
        "/v1/trail/vkey",
        "/v1/trail/checkpoint",
        "/v1/reports/billing",
        "/v1/reports/compliance?format=html",
    ] {
        let response = common::signed_get_response(&endpoint, &creds, path).await;
        assert_eq!(response.status(), 500, "{path}");
        assert!(response.headers().get("x-keyledger-event-id").is_none());
        let body = response.text().await.unwrap();
        assert!(body.contains("KMSInternalException"), "{path}: {body}");
    }
    let metrics = reqwest::get(format!("{endpoint}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("keyledger_calls_refused_unaudited_total 9\n"),
        "{metrics}"
    );
    // Every failed group is counted by the writer too, and each of those calls by outcome.
    let failures: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("keyledger_ledger_append_failures_total "))
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(failures >= 1, "{metrics}");
    assert!(
        metrics.contains(r#"outcome="KMSInternalException"}"#),
        "{metrics}"
    );
    // Failed calls are failed for real: nothing of them reached the ledger or the key state.
    assert_eq!(stored_events(&dir).await.len(), recorded);

    fail.store(false, Ordering::SeqCst);
    assert_eq!(
        kms.list_keys().send().await.unwrap().keys().len(),
        1,
        "the refused CreateKey made no key"
    );
    let out = kms.decrypt().ciphertext_blob(blob).send().await.unwrap();
    assert_eq!(out.plaintext.unwrap().as_ref(), b"fine");
    handle.stop(true).await;
    let (ok, out) = verify(&dir);
    assert!(ok, "{out}");
}
