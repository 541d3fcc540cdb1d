//! Report benchmark: a month of REQUESTS calls (default 10M) folded by the `billing` and
//! `compliance` models into a fresh ledger's tables, then the reports timed as the server
//! makes them (they read the models, never the trail).
//!
//! `cargo run --release --example report_bench -- DIR [REQUESTS] [KEYS] [PRINCIPALS]`
//!
//! The calls go through the models' own folds (`ReadModel::apply`) in batches, as the append
//! path would run them, but without writing the events themselves (10M events would be
//! ~11 GB): what is timed is the report over a model holding a month of 10M requests.
use keyledger::app::reports;
use keyledger::ledger::sql::{EventColumns, ReadModel, Statements, Value};
use keyledger::ledger::sqlite::SqliteLedger;
use sqlx::{Arguments as _, ConnectOptions as _};
use std::time::Instant;

const OPERATIONS: &[&str] = &[
    "Encrypt",
    "Decrypt",
    "GenerateDataKey",
    "Sign",
    "DescribeKey",
];
const DEC_1_NS: i64 = 1_796_083_200_000_000_000;
const MONTH_NS: i64 = 31 * 86_400_000_000_000;

async fn run(conn: &mut sqlx::SqliteConnection, statements: &Statements) {
    for statement in &statements.0 {
        let mut args = sqlx::sqlite::SqliteArguments::default();
        for value in &statement.params {
            match value {
                Value::Null => args.add(Option::<i64>::None).unwrap(),
                Value::Int(v) => args.add(*v).unwrap(),
                Value::Text(v) => args.add(v.clone()).unwrap(),
            }
        }
        sqlx::query_with(&statement.sql, args)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(
        args.get(1)
            .expect("usage: report_bench DIR [REQUESTS] [KEYS] [PRINCIPALS]"),
    );
    let requests: usize = args.get(2).map_or(10_000_000, |v| v.parse().unwrap());
    let key_count: usize = args.get(3).map_or(1_000, |v| v.parse().unwrap());
    let principals: usize = args.get(4).map_or(10, |v| v.parse().unwrap());
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ledger.db");
    // Migrations (the models' tables), then the models written to directly.
    drop(SqliteLedger::open(&path, vec![]).await.unwrap());
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .connect()
        .await
        .unwrap();
    let models: [&dyn ReadModel; 2] = [
        &keyledger::projections::billing::Billing,
        &keyledger::projections::compliance::Compliance,
    ];
    let keys: Vec<String> = (0..key_count)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let users: Vec<String> = (0..principals)
        .map(|i| format!("arn:aws:iam::111122223333:user/user-{i}"))
        .collect();
    let create_json = br#"{"event_type":"ApiCallRecorded","body":{"responseElements":{"keyMetadata":{"AWSAccountId":"111122223333","KeySpec":"SYMMETRIC_DEFAULT","KeyManager":"CUSTOMER"}}}}"#;
    let started = Instant::now();
    // The keys, created on the first of the month.
    let creates: Vec<EventColumns> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| EventColumns {
            position: i as u64 + 1,
            event_name: "CreateKey",
            event_id: "e",
            time_ns: DEC_1_NS + i as i64,
            keys: key,
            account: Some("111122223333"),
            principal: Some(&users[0]),
            data: create_json,
            ..EventColumns::default()
        })
        .collect();
    sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
    for model in models {
        let mut out = Statements::default();
        model.apply(&creates, &mut out);
        run(&mut conn, &out).await;
    }
    // The month's calls, in time order, in folds of 10,000 (a large group commit's worth
    // many times over: what matters here is the rows the model ends with).
    const FOLD: usize = 10_000;
    let step = MONTH_NS / requests as i64;
    let mut n = 0usize;
    while n < requests {
        let batch: Vec<EventColumns> = (n..(n + FOLD).min(requests))
            .map(|i| EventColumns {
                position: (key_count + i + 1) as u64,
                event_name: OPERATIONS[i % OPERATIONS.len()],
                event_id: "e",
                time_ns: DEC_1_NS + i as i64 * step,
                keys: &keys[(i / 7) % keys.len()],
                error_code: (i % 50 == 0).then_some("DisabledException"),
                account: Some("111122223333"),
                principal: Some(&users[i % users.len()]),
                ..EventColumns::default()
            })
            .collect();
        for model in models {
            let mut out = Statements::default();
            model.apply(&batch, &mut out);
            run(&mut conn, &out).await;
        }
        n += batch.len();
    }
    sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
    let rows = |table: &'static str| {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        async move {
            sqlx::query_scalar::<_, i64>(&sql)
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
    };
    let billing_rows = rows("billing_requests").await;
    println!(
        "folded {requests} requests over {key_count} keys into the models in {:.1}s ({billing_rows} billing_requests rows)",
        started.elapsed().as_secs_f64()
    );
    let mut conn2 = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .connect()
        .await
        .unwrap();
    let compliance_rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM compliance_requests")
        .fetch_one(&mut conn2)
        .await
        .unwrap();
    println!("compliance_requests rows: {compliance_rows}");

    let reader = SqliteLedger::open_read_only(&path).await.unwrap();
    let month = replay::billing::BillingMonth::parse("2026-12").unwrap();
    let end = time::OffsetDateTime::from_unix_timestamp(month.bounds().1).unwrap();
    let prices = replay::billing::Prices::default();
    let mut times = Vec::new();
    let mut total = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let report = reports::billing(&reader, month, None, &prices, end)
            .await
            .unwrap();
        let json = report.to_json();
        times.push(t.elapsed().as_secs_f64() * 1e3);
        total = report.totals.requests;
        assert!(json.len() > 1000);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "billing report, month of {total} requests: median {:.1} ms, max {:.1} ms (5 runs, JSON)",
        times[2], times[4]
    );
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let report = reports::compliance(
            &reader,
            month.bounds().1 * 1_000_000_000,
            false,
            &reports::ComplianceSettings::default(),
            None,
        )
        .await
        .unwrap();
        let _ = report.to_json();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "compliance report, 30 days: median {:.1} ms, max {:.1} ms (5 runs, JSON)",
        times[2], times[4]
    );
}
