//! Trail query benchmark: one key's events among a large ledger, through the `trail_index`
//! read model (the query `GET /v1/trail?KeyId=…` and LookupEvents run, minus HTTP).
//!
//! `cargo run --example trail_bench -- DIR [EVENTS] [KEYS]` appends EVENTS usage events
//! (default 1,000,000; ~1.1 KB each, as a recorded Encrypt) over KEYS keys (default 1,000)
//! into DIR/ledger.db unless it already holds them, then times, per query kind, the median
//! and worst of 20 runs on 20 different keys.
use keyledger::ledger::sqlite::SqliteLedger;
use keyledger::ledger::trail::{Scope, TrailFilter, TrailQuery};
use keyledger::ledger::{AppendBatch, Columns, LedgerStore, NewEvent};
use std::time::{Duration, Instant};

const OPERATIONS: &[&str] = &[
    "Encrypt",
    "Decrypt",
    "GenerateDataKey",
    "Sign",
    "DescribeKey",
];
const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
const PER_COMMIT: usize = 64;

/// The key of event `n` (keys are numbered, so a rerun finds the same ones).
fn key(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

fn event(n: usize, keys: usize) -> NewEvent {
    let key = key(n % keys);
    let operation = OPERATIONS[n % OPERATIONS.len()];
    let event_id = uuid::Uuid::now_v7();
    let time = time::OffsetDateTime::now_utc();
    let failed = n.is_multiple_of(50);
    let mut json = serde_json::json!({
        "event_id": event_id, "event_version": 1,
        "time": time.format(&time::format_description::well_known::Rfc3339).unwrap(),
        "request_id": uuid::Uuid::new_v4(), "event_name": operation, "read_only": true,
        "event_type": "ApiCallRecorded",
        "body": {
            "eventVersion": "1.11",
            "userIdentity": {"type": "IAMUser", "principalId": "AKIAEXAMPLE", "arn": format!("arn:aws:iam::{ACCOUNT}:user/admin"),
                             "accountId": ACCOUNT, "accessKeyId": "AKIAEXAMPLE", "userName": "admin"},
            "eventSource": "kms.amazonaws.com", "eventName": operation,
            "awsRegion": REGION, "sourceIPAddress": "127.0.0.1", "userAgent": "trail_bench",
            "requestParameters": {"keyId": key, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
            "responseElements": null, "eventID": event_id, "readOnly": true,
            "resources": [{"accountId": ACCOUNT, "type": "AWS::KMS::Key",
                           "ARN": format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}")}],
            "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": ACCOUNT,
            "eventCategory": "Management",
        }
    });
    if failed {
        json["error_code"] = "DisabledException".into();
    }
    NewEvent {
        stream: None,
        event_name: operation.into(),
        data: serde_json::to_vec(&json).unwrap(),
        columns: Columns::new(
            event_id,
            time,
            Some(key),
            failed.then(|| "DisabledException".into()),
        ),
        lifecycle: None,
    }
}

fn report(name: &str, mut times: Vec<Duration>, rows: usize) {
    times.sort();
    println!(
        "{name:<34} median={:>8.2}ms max={:>8.2}ms rows={rows}",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir =
        std::path::PathBuf::from(args.get(1).expect("usage: trail_bench DIR [EVENTS] [KEYS]"));
    let events: usize = args.get(2).map_or(1_000_000, |v| v.parse().unwrap());
    let keys: usize = args.get(3).map_or(1_000, |v| v.parse().unwrap());
    std::fs::create_dir_all(&dir).unwrap();
    let mut ledger = SqliteLedger::open(
        &dir.join("ledger.db"),
        keyledger::projections::read_models(),
    )
    .await
    .unwrap();
    let mut n = ledger.reader.head().await.unwrap().position as usize;
    if n < events {
        let started = Instant::now();
        let from = n;
        while n < events {
            let batches: Vec<AppendBatch> = (n..(n + PER_COMMIT).min(events))
                .map(|i| AppendBatch {
                    events: vec![event(i, keys)],
                    ..AppendBatch::default()
                })
                .collect();
            let refs: Vec<&AppendBatch> = batches.iter().collect();
            ledger.store.append(&refs).await.unwrap();
            n += refs.len();
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "appended {} events in {seconds:.1}s ({:.0} events/s, trail_index and key_usage kept live)",
            n - from,
            (n - from) as f64 / seconds
        );
    }
    println!("ledger: {n} events over {keys} keys");
    let reader = ledger.reader.clone();
    let query = |filters: Vec<TrailFilter>, limit: usize| TrailQuery {
        scope: Scope {
            account: ACCOUNT.into(),
            region: REGION.into(),
        },
        filters,
        start_ns: None,
        end_ns: None,
        before: None,
        up_to: None,
        limit,
    };
    let runs = 20;
    type MakeQuery<'a> = Box<dyn Fn(usize) -> TrailQuery + 'a>;
    let mut kinds: Vec<(&str, MakeQuery)> = vec![
        (
            "one key, first page (50)",
            Box::new(|k| query(vec![TrailFilter::Key(key(k))], 50)),
        ),
        (
            "one key, every event (<=1000)",
            Box::new(|k| query(vec![TrailFilter::Key(key(k))], 1000)),
        ),
        (
            "one key + EventName, first page",
            Box::new(|k| {
                query(
                    vec![
                        TrailFilter::Key(key(k)),
                        TrailFilter::EventName(OPERATIONS[k % OPERATIONS.len()].into()),
                    ],
                    50,
                )
            }),
        ),
        (
            "ErrorCode, first page (50)",
            Box::new(|_| query(vec![TrailFilter::ErrorCode("DisabledException".into())], 50)),
        ),
        (
            "everything, first page (50)",
            Box::new(|_| query(vec![], 50)),
        ),
    ];
    for (name, make) in kinds.drain(..) {
        let mut times = Vec::with_capacity(runs);
        let mut rows = 0;
        for run in 0..runs {
            let q = make((run * 37) % keys);
            let started = Instant::now();
            let hits = reader.trail(&q).await.unwrap();
            times.push(started.elapsed());
            rows = hits.len();
        }
        report(name, times, rows);
    }
}
