//! Usage billing: `GET /v1/reports/billing` (JSON, CSV, HTML) and `keyledger report billing`
//! count what the calls did, price them by the key's spec, and `replay billing` computes the
//! same report, byte for byte, from a verified trail export alone.

mod common;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeyPairSpec, KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec,
};
use common::{command, signed_get_response, Server};
use serde_json::Value;
use std::path::Path;

fn month_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!("{:04}-{:02}", now.year(), now.month() as u8)
}

async fn report(server: &Server, query: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let response = signed_get_response(
        &server.endpoint,
        &server.credentials,
        &format!("/v1/reports/billing{query}"),
    )
    .await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.text().await.unwrap(), headers)
}

fn line<'a>(bill: &'a Value, key: &str, class: &str) -> &'a Value {
    bill["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key_id"] == key && l["price_class"] == class)
        .unwrap_or_else(|| panic!("no {class} line for {key} in {bill:#}"))
}

/// `keyledger trail export` of the hours around now into `out`.
fn export(data: &Path, out: &Path) {
    let hour = time::OffsetDateTime::now_utc()
        .replace_minute(0)
        .unwrap()
        .replace_second(0)
        .unwrap()
        .replace_nanosecond(0)
        .unwrap();
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let (ok, printed) = command(
        &[
            "trail",
            "export",
            "--from",
            &fmt(hour - time::Duration::hours(1)),
            "--to",
            &fmt(hour + time::Duration::hours(2)),
            "--out",
            out.to_str().unwrap(),
        ],
        data,
    );
    assert!(ok, "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_months_bill_counts_prices_and_is_recomputed_from_the_export() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let server = Server::start(&data).await;
    let kms = &server.client;
    let symmetric = common::create_key(kms, None).await;
    let rsa = common::create_key(kms, Some((KeySpec::Rsa2048, KeyUsageType::SignVerify))).await;
    let ecc = common::create_key(kms, Some((KeySpec::EccNistP256, KeyUsageType::SignVerify))).await;
    for i in 0..7 {
        kms.encrypt()
            .key_id(&symmetric)
            .plaintext(Blob::new(format!("bill {i}")))
            .send()
            .await
            .unwrap();
    }
    for (key, n) in [(&rsa, 2), (&ecc, 3)] {
        for _ in 0..n {
            kms.sign()
                .key_id(key)
                .message(Blob::new("m"))
                .message_type(MessageType::Raw)
                .signing_algorithm(if key == &rsa {
                    SigningAlgorithmSpec::RsassaPssSha256
                } else {
                    SigningAlgorithmSpec::EcdsaSha256
                })
                .send()
                .await
                .unwrap();
        }
    }
    kms.generate_data_key_pair()
        .key_id(&symmetric)
        .key_pair_spec(DataKeyPairSpec::Rsa2048)
        .send()
        .await
        .unwrap();
    kms.generate_data_key_pair_without_plaintext()
        .key_id(&symmetric)
        .key_pair_spec(DataKeyPairSpec::EccNistP256)
        .send()
        .await
        .unwrap();
    kms.rotate_key_on_demand()
        .key_id(&symmetric)
        .send()
        .await
        .unwrap();
    // A failed call is counted apart, and not charged.
    kms.disable_key().key_id(&ecc).send().await.unwrap();
    assert!(kms
        .sign()
        .key_id(&ecc)
        .message(Blob::new("m"))
        .message_type(MessageType::Raw)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .is_err());
    // A key pending deletion stops being charged.
    kms.schedule_key_deletion()
        .key_id(&ecc)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();

    let month = month_now();
    let (status, text, _) = report(&server, &format!("?month={month}")).await;
    assert_eq!(status, 200, "{text}");
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["month"], month);
    let bill = &json["accounts"][0];
    assert_eq!(bill["account"], server.credentials.account_id);
    // CreateKey, 7 Encrypt, RotateKeyOnDemand on the symmetric key.
    let sym = line(bill, &symmetric, "symmetric");
    assert_eq!(sym["requests"], 9, "{bill:#}");
    assert_eq!(sym["unit_price_micros"], 30_000);
    assert_eq!(sym["amount_micros"], 27);
    assert_eq!(sym["billable_units"], "0.0009");
    assert_eq!(line(bill, &symmetric, "rsa_key_pair")["requests"], 1);
    assert_eq!(
        line(bill, &symmetric, "rsa_key_pair")["amount_micros"],
        1_200
    );
    assert_eq!(line(bill, &symmetric, "ecc_key_pair")["requests"], 1);
    // CreateKey and 2 Sign on RSA_2048; CreateKey, 3 Sign, DisableKey, ScheduleKeyDeletion on ECC.
    assert_eq!(line(bill, &rsa, "rsa_2048")["requests"], 3);
    let ecc_line = line(bill, &ecc, "asymmetric");
    assert_eq!(ecc_line["requests"], 6);
    assert_eq!(ecc_line["amount_micros"], 90);
    let failed: Vec<&Value> = bill["uncharged"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["key_id"] == ecc)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["outcome"], "failed");
    assert_eq!(failed[0]["requests"], 1);
    // Key-months: this hour for the keys; the ECC key only until its deletion was
    // scheduled (nothing if that was within the second it was created).
    let keys = bill["keys"].as_array().unwrap();
    let hours = |key: &str| {
        keys.iter()
            .find(|k| k["key_id"] == key)
            .map(|k| k["hours"].as_i64().unwrap())
    };
    // (Two hours if the test crossed the hour.)
    for key in [&symmetric, &rsa] {
        assert!(matches!(hours(key), Some(1 | 2)), "{bill:#}");
    }
    assert!(hours(&ecc).unwrap_or(0) <= 2);
    assert_eq!(bill["rotations"].as_array().unwrap().len(), 1);
    assert_eq!(bill["rotations"][0]["key_id"], symmetric.as_str());
    // The free tier takes the symmetric requests off (asymmetric and key pairs excluded).
    let symmetric_requests: i64 = bill["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["price_class"] == "symmetric")
        .map(|l| l["requests"].as_i64().unwrap())
        .sum();
    assert_eq!(bill["free_tier"]["requests"], symmetric_requests);
    assert_eq!(bill["free_tier"]["amount_micros"], -3 * symmetric_requests);
    let parts = [
        "requests_micros",
        "keys_micros",
        "rotations_micros",
        "free_tier_micros",
    ];
    let sum: i64 = parts
        .iter()
        .map(|p| bill["totals"][p].as_i64().unwrap())
        .sum();
    assert_eq!(bill["totals"]["amount_micros"], sum);

    // The same report as CSV and as a page.
    let (status, csv, headers) = report(&server, &format!("?month={month}&format=csv")).await;
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(csv.starts_with("month,account,line,key_id,"), "{csv}");
    assert!(
        csv.lines()
            .any(|l| l.contains(&symmetric) && l.contains(",symmetric,9,0.0009,")),
        "{csv}"
    );
    let (status, html, headers) = report(&server, &format!("?month={month}&format=html")).await;
    assert_eq!(status, 200);
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert!(html.contains(&format!("<h1>Billing report {month}</h1>")));
    assert!(html.contains("<rect class=\"bar\""), "the chart has data");
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
    // Bad parameters are refused clearly.
    for bad in [
        "?month=2026-13",
        "?month=12-2026",
        "?format=xml",
        "?account=12",
        "?monht=2026-12",
    ] {
        let (status, text, _) = report(&server, bad).await;
        assert_eq!(status, 400, "{bad}: {text}");
        assert!(text.contains("ValidationException"), "{bad}: {text}");
    }
    // One account, and another account with nothing.
    let (_, one, _) = report(
        &server,
        &format!("?month={month}&account={}", server.credentials.account_id),
    )
    .await;
    let one: Value = serde_json::from_str(&one).unwrap();
    assert_eq!(one["accounts"].as_array().unwrap().len(), 1);
    let (_, none, _) = report(&server, &format!("?month={month}&account=999999999999")).await;
    let none: Value = serde_json::from_str(&none).unwrap();
    assert!(none["accounts"].as_array().unwrap().is_empty());

    // Recomputed from a verified export alone: byte for byte the server's JSON.
    let vkey = signed_get_response(&server.endpoint, &server.credentials, "/v1/trail/vkey")
        .await
        .text()
        .await
        .unwrap();
    let (_, served, _) = report(&server, &format!("?month={month}")).await;
    let through = serde_json::from_str::<Value>(&served).unwrap()["through"]
        .as_str()
        .unwrap()
        .to_owned();
    server.stop();
    let out = root.path().join("export");
    export(&data, &out);
    let recomputed = replay::cli::billing(&[
        "--export",
        out.to_str().unwrap(),
        "--vkey",
        vkey.trim(),
        "--month",
        &month,
        "--through",
        &through,
    ])
    .unwrap();
    assert_eq!(
        recomputed, served,
        "replay billing gives the server's report"
    );
    // A tampered export is refused, not billed.
    let log = common::files_under(&out.join("CloudTrail"))[0].clone();
    let mut bytes = std::fs::read(&log).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&log, bytes).unwrap();
    let refused = replay::cli::billing(&[
        "--export",
        out.to_str().unwrap(),
        "--vkey",
        vkey.trim(),
        "--month",
        &month,
    ]);
    assert!(matches!(refused, Err(Some(e)) if e.contains("does not verify")));

    // Offline, the CLI gives the same report (charged through its own now).
    let (ok, printed) = command(&["report", "billing", "--month", &month], &data);
    assert!(ok, "{printed}");
    let offline: Value = serde_json::from_str(&printed).unwrap();
    let online: Value = serde_json::from_str(&served).unwrap();
    // The report calls and the vkey read are not KMS requests: the counts did not change.
    for part in ["requests", "uncharged", "daily", "free_tier"] {
        assert_eq!(
            offline["accounts"][0][part], online["accounts"][0][part],
            "{part}"
        );
    }

    // The operator's prices apply, and replay applies the same file.
    let config = root.path().join("keyledger.toml");
    std::fs::write(
        &config,
        "[billing]\nsymmetric_per_10k = 40000\nkey_month = 2000000\n",
    )
    .unwrap();
    let (ok, printed) = command(
        &[
            "report",
            "billing",
            "--month",
            &month,
            "--config",
            config.to_str().unwrap(),
        ],
        &data,
    );
    assert!(ok, "{printed}");
    let priced: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(
        line(&priced["accounts"][0], &symmetric, "symmetric")["amount_micros"],
        36
    );
    assert_eq!(priced["prices"]["key_month"], 2_000_000);
}

/// The caller columns are derived from the hashed JSON: an older ledger without them gets
/// them filled at the next start, and a column that disagrees with the JSON fails `verify`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_columns_are_backfilled_and_verified() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let server = Server::start(&data).await;
    let key = common::create_key(&server.client, None).await;
    server
        .client
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    common::wait_for_checkpoint(&data);
    let account = server.credentials.account_id.clone();
    server.stop();
    let columns = async || -> Vec<(Option<String>, Option<String>)> {
        let mut conn = common::ledger_connection(&data, true).await;
        sqlx::query_as("SELECT account, principal FROM events ORDER BY position")
            .fetch_all(&mut conn)
            .await
            .unwrap()
    };
    let written = columns().await;
    assert!(written.iter().any(|(a, p)| a.as_deref() == Some(&account)
        && p.as_deref().is_some_and(|p| p.contains(":user/"))));
    {
        // As a ledger from before the columns: all NULL, the backfill due.
        let mut conn = common::ledger_connection(&data, false).await;
        sqlx::query("UPDATE events SET account = NULL, principal = NULL")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO ledger_meta (key, value) VALUES ('caller_columns_backfill', 'pending')",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let (ok, out) = common::verify(&data);
    assert!(!ok && out.contains("indexed columns disagree"), "{out}");
    let server = Server::start(&data).await;
    server.stop();
    assert_eq!(columns().await, written, "filled again from the JSON");
    let (ok, out) = common::verify(&data);
    assert!(ok, "{out}");
    {
        let mut conn = common::ledger_connection(&data, false).await;
        sqlx::query("UPDATE events SET account = '999999999999' WHERE position = (SELECT MAX(position) FROM events WHERE account IS NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let (ok, out) = common::verify(&data);
    assert!(!ok && out.contains("indexed columns disagree"), "{out}");
}
