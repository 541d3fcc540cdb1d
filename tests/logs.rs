//! The server's logs: no plaintext, data key, private key, secret access key or root key in
//! them at debug level over a realistic session; with `log_format = "json"` every line is a
//! JSON object and a request's lines carry its request id, the one its `x-amzn-RequestId`
//! header and its CloudTrail record (`requestID`) give.

mod common;

use aws_sdk_kms::operation::RequestId as _;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeyPairSpec, DataKeySpec, KeySpec, KeyUsageType, MacAlgorithmSpec, MessageType,
    SigningAlgorithmSpec,
};
use base64::Engine as _;
use common::Server;

fn iam_client(s: &Server) -> aws_sdk_iam::Client {
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new(
            s.credentials.region.clone(),
        ))
        .endpoint_url(&s.endpoint)
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            &s.credentials.access_key_id,
            &s.credentials.secret_access_key,
            None,
            None,
            "test",
        ))
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

async fn create_key(s: &Server, spec: KeySpec, usage: KeyUsageType) -> String {
    s.client
        .create_key()
        .key_spec(spec)
        .key_usage(usage)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_owned()
}

/// Encrypt `plaintext` under `key`: the call's request id.
async fn encrypt(s: &Server, key: &str, plaintext: &[u8]) -> String {
    s.client
        .encrypt()
        .key_id(key)
        .plaintext(Blob::new(plaintext.to_vec()))
        .send()
        .await
        .unwrap()
        .request_id()
        .unwrap()
        .to_owned()
}

/// Every way a secret could be written out: as text (when it is text), base64 (standard
/// and URL-safe), hex.
fn spellings(secret: &[u8]) -> Vec<String> {
    let mut out = vec![
        base64::engine::general_purpose::STANDARD.encode(secret),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
        hex::encode(secret),
        hex::encode_upper(secret),
    ];
    if let Ok(text) = std::str::from_utf8(secret) {
        out.push(text.to_owned());
    }
    // Debug of a byte slice: `[12, 200, …]`, the first few bytes are enough to find it.
    let debug = format!("{:?}", &secret[..secret.len().min(8)]);
    out.push(debug.trim_end_matches(']').to_owned());
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_logged_at_debug_shows_no_plaintext_key_or_secret() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Server::start(&data).await;
    let kms = &s.client;
    let mut secrets: Vec<(&str, Vec<u8>)> = vec![];

    let symmetric = create_key(&s, KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt).await;
    let plaintext = b"log canary: the plaintext 5d1f0c".to_vec();
    let encrypted = kms
        .encrypt()
        .key_id(&symmetric)
        .plaintext(Blob::new(plaintext.clone()))
        .encryption_context("purpose", "log-test")
        .send()
        .await
        .unwrap();
    let decrypted = kms
        .decrypt()
        .ciphertext_blob(encrypted.ciphertext_blob().unwrap().clone())
        .encryption_context("purpose", "log-test")
        .send()
        .await
        .unwrap();
    assert_eq!(
        decrypted.plaintext().unwrap().as_ref(),
        plaintext.as_slice()
    );
    secrets.push(("Encrypt plaintext", plaintext));

    let data_key = kms
        .generate_data_key()
        .key_id(&symmetric)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    secrets.push(("data key", data_key.plaintext().unwrap().as_ref().to_vec()));
    let pair = kms
        .generate_data_key_pair()
        .key_id(&symmetric)
        .key_pair_spec(DataKeyPairSpec::EccNistP256)
        .send()
        .await
        .unwrap();
    secrets.push((
        "data key pair's private key",
        pair.private_key_plaintext().unwrap().as_ref().to_vec(),
    ));

    let signing = create_key(&s, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let message = b"log canary: the message signed 93be".to_vec();
    kms.sign()
        .key_id(&signing)
        .message(Blob::new(message.clone()))
        .message_type(MessageType::Raw)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap();
    secrets.push(("signed message", message));

    let hmac = create_key(&s, KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac).await;
    let mac_message = b"log canary: the message MACed 40aa".to_vec();
    kms.generate_mac()
        .key_id(&hmac)
        .message(Blob::new(mac_message.clone()))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap();
    secrets.push(("MACed message", mac_message));

    let iam = iam_client(&s);
    iam.create_user()
        .user_name("log-canary")
        .send()
        .await
        .unwrap();
    let access_key = iam
        .create_access_key()
        .user_name("log-canary")
        .send()
        .await
        .unwrap();
    let access_key = access_key.access_key().unwrap();
    secrets.push((
        "new secret access key",
        access_key.secret_access_key().as_bytes().to_vec(),
    ));
    secrets.push((
        "admin secret access key",
        s.credentials.secret_access_key.as_bytes().to_vec(),
    ));
    // A failed call (its error path logs too).
    assert!(kms
        .decrypt()
        .ciphertext_blob(Blob::new(vec![1u8; 80]))
        .send()
        .await
        .is_err());

    let root_hex = std::fs::read_to_string(data.join("root.key")).unwrap();
    let root = hex::decode(root_hex.trim()).expect("root.key holds hex");
    assert_eq!(root.len(), 32);
    secrets.push(("root key", root));

    let log_path = s.log.clone();
    s.stop();
    let log = std::fs::read_to_string(&log_path).unwrap();
    // The log is the one of this session, at debug level, with a line per request: a test
    // of an empty log would pass whatever the server wrote.
    assert!(log.contains("DEBUG"), "not a debug-level log:\n{log}");
    let answered = log.lines().filter(|l| l.contains("answered")).count();
    assert!(answered >= 12, "{answered} request lines:\n{log}");
    for operation in [
        "Encrypt",
        "Decrypt",
        "GenerateDataKeyPair",
        "Sign",
        "GenerateMac",
    ] {
        assert!(
            log.contains(&format!("TrentService.{operation}")),
            "no {operation} line"
        );
    }
    for (what, secret) in &secrets {
        for spelling in spellings(secret) {
            assert!(
                !log.contains(&spelling),
                "the {what} is in the log (as {spelling:?})"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_log_lines_parse_and_carry_the_request_id_of_the_header_and_trail() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("keyledger.toml");
    std::fs::write(&config, "log_format = \"json\"\n").unwrap();
    let s = Server::start_with(&data, &["--config", config.to_str().unwrap()]).await;
    let key = create_key(&s, KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt).await;
    let encrypt_id = encrypt(&s, &key, b"json log").await;
    let failed = s
        .client
        .decrypt()
        .ciphertext_blob(Blob::new(vec![2u8; 80]))
        .send()
        .await
        .unwrap_err();
    let failed_id = failed.request_id().unwrap().to_owned();
    // A route that does not exist still gets an id, in its header and its log line.
    let missing = reqwest::get(format!("{}/no/such/route", s.endpoint))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let missing_id = missing.headers()["x-amzn-RequestId"]
        .to_str()
        .unwrap()
        .to_owned();
    let log_path = s.log.clone();
    s.stop();

    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    assert!(lines.len() > 5, "{log}");
    for line in &lines {
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "{line}"
        );
    }
    let trail = common::trail(&data).await;
    for (id, status, event) in [
        (&encrypt_id, 200, Some("Encrypt")),
        (&failed_id, 400, Some("Decrypt")),
        (&missing_id, 404, None),
    ] {
        let answered: Vec<_> = lines
            .iter()
            .filter(|l| l["span"]["request_id"] == id.as_str())
            .filter(|l| l["fields"]["message"] == "answered")
            .collect();
        assert_eq!(answered.len(), 1, "request {id}: {answered:?}\n{log}");
        assert_eq!(answered[0]["fields"]["status"], status, "{}", answered[0]);
        assert_eq!(answered[0]["span"]["name"], "request");
        if let Some(event) = event {
            let record = trail
                .iter()
                .find(|r| r["requestID"] == id.as_str())
                .unwrap_or_else(|| panic!("no trail record with requestID {id}"));
            assert_eq!(record["eventName"], event);
            assert_eq!(
                answered[0]["span"]["operation"],
                format!("TrentService.{event}")
            );
        }
    }
}

/// Lines are buffered (`keyledger::logging`), but a running server still writes them out
/// within moments, not only when it stops; and what a SIGTERM leaves in the buffer is written
/// before the process ends.
#[tokio::test(flavor = "multi_thread")]
async fn a_running_server_writes_its_lines_out_and_a_stopping_one_leaves_none_behind() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path()).await;
    let key = create_key(&s, KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt).await;
    let id = encrypt(&s, &key, b"soon").await;
    let written = |id: &str| {
        std::fs::read_to_string(&s.log)
            .unwrap()
            .lines()
            .any(|l| l.contains(id) && l.contains("answered"))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !written(&id) {
        assert!(
            std::time::Instant::now() < deadline,
            "the answered line of {id} was not written while the server ran"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // A burst of calls right before SIGTERM: every answered line is in the log after it.
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(encrypt(&s, &key, b"burst").await);
    }
    let log_path = s.log.clone();
    s.stop();
    let log = std::fs::read_to_string(&log_path).unwrap();
    for id in &ids {
        assert!(
            log.lines()
                .any(|l| l.contains(id) && l.contains("answered")),
            "no answered line for {id} after the stop"
        );
    }
    // Logged as the signal arrives, milliseconds before the process ends: written by the
    // flush on the way out, not by the thread.
    assert!(
        log.lines()
            .any(|l| l.contains("stopping: finishing requests in flight")),
        "the stop's own line is not in the log:\n{log}"
    );
}
