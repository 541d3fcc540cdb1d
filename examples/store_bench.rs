//! Store-level benchmark and ledger generator: appends realistic usage events (a recorded
//! Encrypt's JSON, ~1.1 KB) straight into the SQLite store in group commits, no HTTP.
//!
//! `cargo run --release --example store_bench -- DIR EVENTS PER_COMMIT KEYS` leaves a ledger
//! in DIR/ledger.db (for `keyledger rebuild all --data-dir DIR`) and prints the append rate.
//! The log ends with a checkpoint signed by a throwaway note key whose verifier key is left in
//! DIR/trail.vkey, so `keyledger verify --data-dir DIR --vkey DIR/trail.vkey` checks it all.
use keyledger::domain::ids::KeyId;
use keyledger::ledger::{sqlite::SqliteLedger, AppendBatch, Columns, LedgerStore, NewEvent};
use std::time::Instant;

const OPERATIONS: &[&str] = &[
    "Encrypt",
    "Decrypt",
    "GenerateDataKey",
    "Sign",
    "DescribeKey",
];

struct BenchSigner(replay::trail::NoteSigner);

impl keyledger::ledger::CheckpointSigner for BenchSigner {
    fn sign(&self, size: u64, root: [u8; 32]) -> Result<String, String> {
        self.0
            .sign_checkpoint("store_bench", size, root)
            .map_err(|e| e.to_string())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(
        args.get(1)
            .expect("usage: store_bench DIR EVENTS PER_COMMIT KEYS"),
    );
    let events: usize = args.get(2).map_or(100_000, |v| v.parse().unwrap());
    let per: usize = args.get(3).map_or(30, |v| v.parse().unwrap());
    let key_count: usize = args.get(4).map_or(100, |v| v.parse().unwrap());
    std::fs::create_dir_all(&dir).unwrap();
    let mut ledger = SqliteLedger::open(
        &dir.join("ledger.db"),
        keyledger::projections::read_models(),
    )
    .await
    .unwrap();
    let keys: Vec<KeyId> = (0..key_count)
        .map(|_| KeyId::from_uuid(uuid::Uuid::new_v4()))
        .collect();
    let started = Instant::now();
    let mut n = 0usize;
    while n < events {
        let batches: Vec<AppendBatch> = (0..per.min(events - n))
            .map(|i| {
                let key = keys[(n + i) % keys.len()];
                let operation = OPERATIONS[(n + i) % OPERATIONS.len()];
                let event_id = uuid::Uuid::now_v7();
                let time = time::OffsetDateTime::now_utc();
                let failed = (n + i) % 50 == 0;
                // Ten callers, as a real account has a few principals.
                let user = format!("user-{}", (n + i) % 10);
                let principal = format!("arn:aws:iam::111122223333:user/{user}");
                let json = serde_json::json!({
                    "event_id": event_id, "event_version": 1,
                    "time": time.format(&time::format_description::well_known::Rfc3339).unwrap(),
                    "request_id": uuid::Uuid::new_v4(), "event_name": operation, "read_only": true,
                    "error_code": failed.then_some("DisabledException"),
                    "event_type": "ApiCallRecorded",
                    "body": {
                        "eventVersion": "1.11",
                        "userIdentity": {"type": "IAMUser", "principalId": "AKIAEXAMPLE", "arn": principal,
                                         "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLE", "userName": user},
                        "eventSource": "kms.amazonaws.com", "eventName": operation,
                        "awsRegion": "us-east-1", "sourceIPAddress": "127.0.0.1", "userAgent": "store_bench",
                        "requestParameters": {"keyId": key.to_string(), "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
                        "responseElements": null, "eventID": event_id, "readOnly": true,
                        "resources": [{"accountId": "111122223333", "type": "AWS::KMS::Key",
                                       "ARN": format!("arn:aws:kms:us-east-1:111122223333:key/{key}")}],
                        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111122223333",
                        "eventCategory": "Management",
                    }
                });
                let mut json = json;
                if !failed {
                    json.as_object_mut().unwrap().remove("error_code");
                }
                AppendBatch {
                    events: vec![NewEvent {
                        stream: None,
                        event_name: operation.into(),
                        data: serde_json::to_vec(&json).unwrap(),
                        columns: Columns::new(event_id, time, Some(key.to_string()), failed.then(|| "DisabledException".into()))
                            .with_caller(Some("111122223333".into()), Some(principal.clone())),
                        lifecycle: None,
                    }],
                    ..Default::default()
                }
            })
            .collect();
        let refs: Vec<&AppendBatch> = batches.iter().collect();
        ledger.store.append(&refs).await.unwrap();
        n += refs.len();
    }
    let seconds = started.elapsed().as_secs_f64();
    let (skey, vkey) = replay::trail::generate_note_key("store_bench").unwrap();
    let signer = BenchSigner(replay::trail::NoteSigner::new(&skey).unwrap());
    ledger.store.write_checkpoint(&signer).await.unwrap();
    std::fs::write(dir.join("trail.vkey"), format!("{vkey}\n")).unwrap();
    println!(
        "appended {n} events in {seconds:.2}s: {:.0} events/s, {:.0} us per commit of {per}",
        n as f64 / seconds,
        seconds * 1e6 / (n as f64 / per as f64)
    );
}
