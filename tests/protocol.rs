//! The wire protocol: SigV4 failures, malformed requests, unknown operations,
//! answered as AWS answers them — and recorded.

mod common;

use common::{error_code, trail, Server};
use keyledger::http::sigv4;
use time::OffsetDateTime;

struct Signed {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Sign a JSON 1.1 request the way an SDK does.
fn sign(server: &Server, target: &str, body: &str, secret: &str, at: OffsetDateTime) -> Signed {
    let host = server.endpoint.trim_start_matches("http://").to_owned();
    let amz_date = sigv4::format_amz_date(at);
    let mut headers = vec![
        (
            "content-type".to_owned(),
            "application/x-amz-json-1.1".to_owned(),
        ),
        ("host".to_owned(), host),
        ("x-amz-date".to_owned(), amz_date.clone()),
        ("x-amz-target".to_owned(), target.to_owned()),
    ];
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let payload = sigv4::sha256_hex(body.as_bytes());
    let parts = sigv4::RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &pairs,
        payload_sha256_hex: &payload,
    };
    let region = &server.credentials.region;
    let key = sigv4::derive_signing_key(secret.as_bytes(), &amz_date[..8], region, "kms");
    let authorization = sigv4::authorization_header(
        &parts,
        &server.credentials.access_key_id,
        &key,
        &amz_date,
        region,
        "kms",
    );
    headers.push(("authorization".to_owned(), authorization));
    Signed {
        headers,
        body: body.as_bytes().to_vec(),
    }
}

async fn send(server: &Server, signed: Signed) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/", server.endpoint))
        .body(signed.body);
    for (k, v) in &signed.headers {
        if k != "host" {
            request = request.header(k, v);
        }
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    assert!(response.headers().contains_key("x-amzn-requestid"));
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

async fn started() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data")).await;
    (dir, server)
}

#[tokio::test]
async fn a_correctly_signed_raw_request_works() {
    let (_dir, server) = started().await;
    let secret = server.credentials.secret_access_key.clone();
    let (status, body) = send(
        &server,
        sign(
            &server,
            "TrentService.ListKeys",
            "{}",
            &secret,
            OffsetDateTime::now_utc(),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Truncated"], false);
    // Status codes as the KMS service model gives them.
    let (status, body) = send(
        &server,
        sign(
            &server,
            "TrentService.DescribeKey",
            r#"{"KeyId":"11111111-2222-3333-4444-555555555555"}"#,
            &secret,
            OffsetDateTime::now_utc(),
        ),
    )
    .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("NotFoundException")),
        "{body}"
    );
}

#[tokio::test]
async fn signature_failures() {
    let (_dir, server) = started().await;
    let secret = server.credentials.secret_access_key.clone();
    let now = OffsetDateTime::now_utc();

    // Wrong secret.
    let (status, body) = send(
        &server,
        sign(
            &server,
            "TrentService.ListKeys",
            "{}",
            "not-the-secret",
            now,
        ),
    )
    .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("InvalidSignatureException")),
        "{body}"
    );

    // Body altered after signing.
    let mut signed = sign(
        &server,
        "TrentService.GenerateRandom",
        r#"{"NumberOfBytes":16}"#,
        &secret,
        now,
    );
    signed.body = br#"{"NumberOfBytes":17}"#.to_vec();
    let (status, body) = send(&server, signed).await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("InvalidSignatureException")),
        "{body}"
    );

    // A signed header altered after signing.
    let mut signed = sign(&server, "TrentService.ListKeys", "{}", &secret, now);
    for (k, v) in signed.headers.iter_mut() {
        if k == "x-amz-target" {
            *v = "TrentService.GenerateRandom".into();
        }
    }
    let (_, body) = send(&server, signed).await;
    assert_eq!(body["__type"], "InvalidSignatureException", "{body}");

    // Outside the ±15 minute window, either way.
    for skew in [time::Duration::minutes(-16), time::Duration::minutes(16)] {
        let (status, body) = send(
            &server,
            sign(&server, "TrentService.ListKeys", "{}", &secret, now + skew),
        )
        .await;
        assert_eq!(
            (status, body["__type"].as_str()),
            (400, Some("InvalidSignatureException")),
            "{body}"
        );
        assert!(
            body["message"].as_str().unwrap().starts_with("Signature"),
            "{body}"
        );
    }
    // Inside it, fine.
    let (status, _) = send(
        &server,
        sign(
            &server,
            "TrentService.ListKeys",
            "{}",
            &secret,
            now - time::Duration::minutes(10),
        ),
    )
    .await;
    assert_eq!(status, 200);

    // No signature at all.
    let response = reqwest::Client::new()
        .post(format!("{}/", server.endpoint))
        .header("x-amz-target", "TrentService.ListKeys")
        .header("content-type", "application/x-amz-json-1.1")
        .body("{}")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["__type"], "MissingAuthenticationTokenException");

    // Every one of those attempts is in the trail, with its error.
    let codes: Vec<String> = trail(&server.data_dir)
        .await
        .iter()
        .map(|r| r["errorCode"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        codes,
        [
            "InvalidSignatureException",
            "InvalidSignatureException",
            "InvalidSignatureException",
            "InvalidSignatureException",
            "InvalidSignatureException",
            "",
            "MissingAuthenticationTokenException"
        ]
    );
}

#[tokio::test]
async fn unknown_access_keys_and_wrong_secrets_through_the_sdk() {
    let (_dir, server) = started().await;
    let c = &server.credentials;
    let stranger = server.client_for(&c.region, "AKIAUNKNOWNUNKNOWN00", "whatever");
    assert_eq!(
        error_code(stranger.list_keys().send().await),
        "UnrecognizedClientException"
    );
    let wrong = server.client_for(&c.region, &c.access_key_id, "wrong-secret");
    assert_eq!(
        error_code(wrong.list_keys().send().await),
        "InvalidSignatureException"
    );
    let records = trail(&server.data_dir).await;
    assert_eq!(records[0]["errorCode"], "UnrecognizedClientException");
    assert_eq!(
        records[0]["userIdentity"]["accessKeyId"],
        "AKIAUNKNOWNUNKNOWN00"
    );
}

#[tokio::test]
async fn malformed_requests_and_unknown_operations() {
    let (_dir, server) = started().await;
    let secret = server.credentials.secret_access_key.clone();
    let now = OffsetDateTime::now_utc();

    let (status, body) = send(
        &server,
        sign(&server, "TrentService.Encrypt", "{not json", &secret, now),
    )
    .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("SerializationException")),
        "{body}"
    );

    let (_, body) = send(
        &server,
        sign(
            &server,
            "TrentService.Encrypt",
            r#"{"KeyId":5,"Plaintext":"aGk="}"#,
            &secret,
            now,
        ),
    )
    .await;
    assert_eq!(body["__type"], "SerializationException", "{body}");

    let (_, body) = send(
        &server,
        sign(
            &server,
            "TrentService.Encrypt",
            r#"{"KeyId":"k","Plaintext":"***"}"#,
            &secret,
            now,
        ),
    )
    .await;
    assert_eq!(body["__type"], "SerializationException", "{body}");

    let (status, body) = send(
        &server,
        sign(&server, "TrentService.FlyToTheMoon", "{}", &secret, now),
    )
    .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("UnknownOperationException")),
        "{body}"
    );

    let (_, body) = send(
        &server,
        sign(&server, "SomethingElse.ListKeys", "{}", &secret, now),
    )
    .await;
    assert_eq!(body["__type"], "UnknownOperationException", "{body}");

    let (_, body) = send(
        &server,
        sign(
            &server,
            "TrentService.Encrypt",
            r#"{"Plaintext":"aGk="}"#,
            &secret,
            now,
        ),
    )
    .await;
    assert_eq!(body["__type"], "ValidationException", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("'keyId'"),
        "{body}"
    );

    let (_, body) = send(
        &server,
        sign(
            &server,
            "TrentService.CreateCustomKeyStore",
            "{}",
            &secret,
            now,
        ),
    )
    .await;
    assert_eq!(body["__type"], "UnsupportedOperationException", "{body}");

    let records = trail(&server.data_dir).await;
    assert_eq!(records.len(), 7);
    assert_eq!(records[3]["eventName"], "FlyToTheMoon");
    assert!(records.iter().all(|r| r["errorCode"].is_string()));
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_an_aws_error_and_recorded() {
    let (_dir, server) = started().await;
    let now = OffsetDateTime::now_utc();
    let secret = server.credentials.secret_access_key.clone();
    let big = format!(
        r#"{{"KeyId":"alias/x","Plaintext":"{}"}}"#,
        "A".repeat(2 << 20)
    );
    let (status, body) = send(
        &server,
        sign(&server, "TrentService.Encrypt", &big, &secret, now),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["__type"], "ValidationException", "{body}");
    let records = trail(&server.data_dir).await;
    let refused = records.last().unwrap();
    assert_eq!(refused["eventName"], "Encrypt");
    assert_eq!(refused["errorCode"], "ValidationException");
    assert_eq!(
        refused["userIdentity"]["accessKeyId"],
        server.credentials.access_key_id.as_str()
    );
    // Nothing of the body is in the record.
    assert!(!refused.to_string().contains("AAAAAAAA"));
}

#[tokio::test]
async fn healthz_answers_ok() {
    let (_dir, server) = started().await;
    let response = reqwest::get(format!("{}/healthz", server.endpoint))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    // A server started without --fips says so (tests/fips.rs covers the other mode).
    assert_eq!(body["fips"], false);
}

#[tokio::test]
async fn the_operation_header_must_be_signed() {
    let (_dir, server) = started().await;
    let secret = server.credentials.secret_access_key.clone();
    // Sign without X-Amz-Target, then add it: a replay as another operation must not pass.
    let mut signed = sign(
        &server,
        "TrentService.ListKeys",
        "{}",
        &secret,
        OffsetDateTime::now_utc(),
    );
    let target = signed
        .headers
        .iter()
        .position(|(k, _)| k == "x-amz-target")
        .unwrap();
    signed.headers.remove(target);
    let host = server.endpoint.trim_start_matches("http://").to_owned();
    let amz_date = signed
        .headers
        .iter()
        .find(|(k, _)| k == "x-amz-date")
        .unwrap()
        .1
        .clone();
    let pairs = [
        ("content-type", "application/x-amz-json-1.1"),
        ("host", host.as_str()),
        ("x-amz-date", amz_date.as_str()),
    ];
    let payload = sigv4::sha256_hex(b"{}");
    let parts = sigv4::RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &pairs,
        payload_sha256_hex: &payload,
    };
    let region = &server.credentials.region;
    let key = sigv4::derive_signing_key(secret.as_bytes(), &amz_date[..8], region, "kms");
    let authorization = sigv4::authorization_header(
        &parts,
        &server.credentials.access_key_id,
        &key,
        &amz_date,
        region,
        "kms",
    );
    signed.headers.retain(|(k, _)| k != "authorization");
    signed.headers.push(("authorization".into(), authorization));
    signed
        .headers
        .push(("x-amz-target".into(), "TrentService.ListKeys".into()));
    let (status, body) = send(&server, signed).await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("InvalidSignatureException")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_configured_regions_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let s = common::Server::start_env(
        &dir.path().join("data"),
        &[],
        &[("KEYLEDGER_REGIONS", "us-east-1, eu-west-1")],
    )
    .await;
    let (id, secret) = (
        &s.credentials.access_key_id,
        &s.credentials.secret_access_key,
    );
    s.client_for("eu-west-1", id, secret)
        .list_keys()
        .send()
        .await
        .unwrap();
    let refused = s
        .client_for("ap-south-1", id, secret)
        .list_keys()
        .send()
        .await;
    assert_eq!(common::error_code(refused), "InvalidSignatureException");
    s.stop();
    // A list without the credentials' own Region is refused at start.
    let out = std::process::Command::new(common::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("other"))
        .env("KEYLEDGER_REGIONS", "eu-west-1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("region us-east-1 is not one of the regions"),
        "{said}"
    );
}
