//! Compliance reporting: `GET /v1/reports/compliance` (JSON, HTML) and `keyledger report
//! compliance` say what the keys are, what was done to them and by whom, what failed, and
//! whether the trail verifies — now, and `as_of` an earlier time, as it read then.

mod common;

use aws_sdk_kms::primitives::Blob;
use common::{command, signed_get_response, Server};
use serde_json::Value;

async fn report(server: &Server, query: &str) -> (u16, String) {
    let response = signed_get_response(
        &server.endpoint,
        &server.credentials,
        &format!("/v1/reports/compliance{query}"),
    )
    .await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn key<'a>(report: &'a Value, id: &str) -> Option<&'a Value> {
    report["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_id"] == id)
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_says_what_happened_to_the_keys_and_as_of_reads_as_then() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let server = Server::start(&data).await;
    let kms = &server.client;
    let a = common::create_key(kms, None).await;
    let b = common::create_key(kms, None).await;
    kms.encrypt()
        .key_id(&a)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap();
    common::wait_for_checkpoint(&data);
    let before_changes = time::OffsetDateTime::now_utc();
    std::thread::sleep(std::time::Duration::from_millis(20));

    let policy = kms
        .get_key_policy()
        .key_id(&a)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    let changed = policy.replace(
        "\"Sid\":\"Enable IAM User Permissions\"",
        "\"Sid\":\"Tightened\"",
    );
    let changed = if changed == policy {
        // Whatever the default looks like, a new statement is a change.
        let mut doc: Value = serde_json::from_str(&policy).unwrap();
        doc["Statement"].as_array_mut().unwrap().push(serde_json::json!({
            "Sid": "Auditors", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:DescribeKey", "Resource": "*"
        }));
        doc.to_string()
    } else {
        changed
    };
    kms.put_key_policy()
        .key_id(&a)
        .policy(&changed)
        .send()
        .await
        .unwrap();
    kms.enable_key_rotation().key_id(&a).send().await.unwrap();
    kms.rotate_key_on_demand().key_id(&a).send().await.unwrap();
    kms.disable_key().key_id(&b).send().await.unwrap();
    // Failed calls, by this principal on b.
    for _ in 0..2 {
        assert!(kms
            .encrypt()
            .key_id(&b)
            .plaintext(Blob::new("no"))
            .send()
            .await
            .is_err());
    }
    kms.schedule_key_deletion()
        .key_id(&b)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    common::wait_for_checkpoint(&data);

    let (status, text) = report(&server, "").await;
    assert_eq!(status, 200, "{text}");
    let now: Value = serde_json::from_str(&text).unwrap();
    let ka = key(&now, &a).expect("a is in the inventory");
    assert_eq!(ka["state"], "Enabled");
    assert_eq!(ka["key_spec"], "SYMMETRIC_DEFAULT");
    assert_eq!(ka["rotation_enabled"], true);
    assert!(ka["last_rotation"].is_string());
    assert!(ka["next_rotation"].is_string());
    assert_eq!(ka["rotation_overdue"], false);
    assert!(ka["last_used"].is_string(), "a was used to encrypt");
    assert_eq!(ka["unused"], false);
    let kb = key(&now, &b).unwrap();
    assert_eq!(kb["state"], "PendingDeletion");
    assert!(kb["deletion_date"].is_string());
    let deletions = now["deletions"].as_array().unwrap();
    assert_eq!(deletions.len(), 1);
    assert_eq!(deletions[0]["key_id"], b.as_str());
    assert!(deletions[0]["scheduled_by"]
        .as_str()
        .unwrap()
        .contains(":user/"));
    // The policy change: who, when, and what changed.
    let changes = now["policy_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0]["key_id"], a.as_str());
    assert!(changes[0]["principal"].as_str().unwrap().contains(":user/"));
    let diff = changes[0]["diff"].as_array().unwrap();
    assert!(diff.iter().any(|l| l["op"] == "+"), "{diff:#?}");
    assert!(diff.iter().any(|l| l["op"] == " "));
    // Failed requests by principal and key; usage by principal and key.
    let failed: Vec<&Value> = now["denied_and_failed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["key_id"] == b.as_str())
        .collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["requests"], 2);
    assert_eq!(failed[0]["outcome"], "failed");
    assert!(failed[0]["principal"].as_str().unwrap().contains(":user/"));
    assert_eq!(now["summary"]["failed_requests"], 2);
    assert!(now["usage"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["key_id"] == a.as_str() && l["requests"].as_i64().unwrap() >= 5));
    assert!(!now["daily"].as_array().unwrap().is_empty());
    assert_eq!(now["trail"]["verifies"], true, "{:#}", now["trail"]);
    assert!(now["trail"]["tree_size"].as_u64().unwrap() > 10);

    // As of before the changes: as it read then.
    let (status, text) = report(&server, &format!("?as_of={}", rfc3339(before_changes))).await;
    assert_eq!(status, 200, "{text}");
    let then: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(key(&then, &a).unwrap()["rotation_enabled"], false);
    assert!(key(&then, &a).unwrap()["last_rotation"].is_null());
    assert_eq!(key(&then, &b).unwrap()["state"], "Enabled");
    assert!(then["policy_changes"].as_array().unwrap().is_empty());
    assert!(then["deletions"].as_array().unwrap().is_empty());
    assert_eq!(then["trail"]["verifies"], true);
    assert!(then["trail"]["tree_size"].as_u64() < now["trail"]["tree_size"].as_u64());
    // A time before the ledger began: nothing yet.
    let (_, text) = report(&server, "?as_of=2001-01-01T00:00:00Z").await;
    let empty: Value = serde_json::from_str(&text).unwrap();
    assert!(empty["keys"].as_array().unwrap().is_empty());
    assert_eq!(empty["trail"]["verifies"], false);

    // The page a person reads.
    let (status, html) = report(&server, "?format=html").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Compliance report</h1>"));
    for heading in [
        "Trail integrity",
        "Keys",
        "Deletions in the period",
        "Key policy changes in the period",
        "Requests in the period",
    ] {
        assert!(html.contains(&format!("<h2>{heading}</h2>")), "{heading}");
    }
    assert!(html.contains(&a) && html.contains("class=\"add\""));
    assert!(
        html.matches("<rect class=\"bar\"").count() >= 3,
        "the charts have data"
    );
    for bad in [
        "?as_of=yesterday",
        "?as_of=2999-01-01T00:00:00Z",
        "?format=csv",
        "?month=2026-12",
    ] {
        let (status, text) = report(&server, bad).await;
        assert_eq!(status, 400, "{bad}: {text}");
        assert!(text.contains("ValidationException"), "{bad}: {text}");
    }
    server.stop();

    // Offline, the same facts; and with a tampered trail it says so.
    let (ok, printed) = command(&["report", "compliance"], &data);
    assert!(ok, "{printed}");
    let offline: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(offline["policy_changes"], now["policy_changes"]);
    assert_eq!(offline["deletions"], now["deletions"]);
    assert_eq!(offline["trail"]["verifies"], true);
    {
        let mut conn = common::ledger_connection(&data, false).await;
        sqlx::query("UPDATE trail_hashes SET hash = zeroblob(32) WHERE level = 0 AND idx = 0")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let (ok, printed) = command(&["report", "compliance"], &data);
    assert!(ok, "{printed}");
    let tampered: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(
        tampered["trail"]["verifies"], false,
        "{:#}",
        tampered["trail"]
    );
    let (ok, printed) = command(&["report", "compliance", "--format", "html"], &data);
    assert!(ok && printed.contains("does not verify"), "{printed}");
}
