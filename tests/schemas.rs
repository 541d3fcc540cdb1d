//! Every event the service writes validates against its JSON Schema in `schemas/`.

mod common;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, Tag};
use common::Server;
use std::collections::BTreeSet;
use std::path::Path;

fn validator(path: &Path) -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn every_written_event_matches_its_schema() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let server = Server::start(&dir).await;
    let kms = &server.client;
    // One of everything: lifecycle events, successful and failed calls, an unauthenticated one.
    let key = kms
        .create_key()
        .description("schema")
        .tags(Tag::builder().tag_key("k").tag_value("v").build().unwrap())
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let blob = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"p".to_vec()))
        .encryption_context("a", "b")
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let _ = kms.decrypt().ciphertext_blob(blob.clone()).send().await;
    kms.decrypt()
        .ciphertext_blob(blob)
        .encryption_context("a", "b")
        .send()
        .await
        .unwrap();
    kms.generate_data_key()
        .key_id(&key)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    kms.generate_random()
        .number_of_bytes(8)
        .send()
        .await
        .unwrap();
    kms.disable_key().key_id(&key).send().await.unwrap();
    let _ = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"p".to_vec()))
        .send()
        .await;
    kms.enable_key().key_id(&key).send().await.unwrap();
    kms.list_keys().send().await.unwrap();
    let c = &server.credentials;
    let _ = server
        .client_for(&c.region, "AKIAAAAAAAAAAAAAAAAA", "x")
        .list_keys()
        .send()
        .await;

    let seen = common::check_schemas(&dir).await;
    for t in [
        "AccountCreated",
        "AccessKeyCreated",
        "KeyCreated",
        "KeyEnabled",
        "KeyDisabled",
        "ApiCallRecorded",
    ] {
        assert!(seen.contains(t), "the test wrote a {t}");
    }
    let schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let expected: BTreeSet<String> = keyledger::domain::events::EVENT_TYPES
        .iter()
        .map(|t| t.to_string())
        .collect();
    // Every schema file is for a type the service writes.
    let files: BTreeSet<String> = std::fs::read_dir(schemas.join("events"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .into_string()
                .unwrap()
                .split('.')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(files, expected);
}

#[test]
fn schemas_reject_what_they_must() {
    let schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let trail = validator(&schemas.join("events/ApiCallRecorded.v1.json"));
    let leaky = serde_json::json!({
        "eventVersion": "1.11", "userIdentity": {"type": "Unknown"}, "eventTime": "2026-11-23T10:00:00Z",
        "eventSource": "kms.amazonaws.com", "eventName": "Encrypt", "awsRegion": "us-east-1",
        "sourceIPAddress": "127.0.0.1", "userAgent": "x", "requestParameters": {"plaintext": "c2VjcmV0"},
        "responseElements": null, "requestID": "r", "eventID": "e", "readOnly": true, "resources": [],
        "eventType": "AwsApiCall", "managementEvent": true, "eventCategory": "Management"
    });
    assert!(
        !trail.is_valid(&leaky),
        "a record with plaintext in it is refused"
    );
    let mut clean = leaky.clone();
    clean["requestParameters"] = serde_json::json!({"keyId": "k"});
    assert!(trail.is_valid(&clean));
    // IAM and STS answers: the key ids and expiry, never a secret or a session token.
    let mut issued = clean.clone();
    issued["eventSource"] = "sts.amazonaws.com".into();
    issued["responseElements"] =
        serde_json::json!({"credentials": {"accessKeyId": "ASIA", "expiration": "x"}});
    assert!(trail.is_valid(&issued));
    for leak in [
        serde_json::json!({"credentials": {"accessKeyId": "ASIA", "sessionToken": "t"}}),
        serde_json::json!({"credentials": {"secretAccessKey": "s"}}),
        serde_json::json!({"accessKey": {"accessKeyId": "AKIA", "secretAccessKey": "s"}}),
    ] {
        issued["responseElements"] = leak.clone();
        assert!(!trail.is_valid(&issued), "{leak} is refused");
    }
}
