//! Requests an attacker would send, over real HTTP (raw bytes on a TCP socket where a
//! client library would tidy them up): each is refused with an AWS-shaped 4xx, recorded
//! bounded in the ledger, and the server serves on.

mod common;

use common::{ledger_connection, Server};
use keyledger::http::sigv4;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A request as bytes go on the wire.
struct Raw {
    method: &'static str,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

struct Answer {
    status: u16,
    body: serde_json::Value,
    /// Where the call's event is (`x-keyledger-position`).
    position: Option<i64>,
}

impl Answer {
    fn error_type(&self) -> &str {
        self.body["__type"].as_str().unwrap_or_default()
    }
    fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}

/// Options for [`signed`]; the defaults sign a KMS JSON 1.1 call as an SDK does.
struct Signing<'a> {
    path: &'a str,
    region: Option<&'a str>,
    content_type: &'a str,
    scope_date: Option<&'a str>,
}

impl Default for Signing<'_> {
    fn default() -> Self {
        Signing {
            path: "/",
            region: None,
            content_type: "application/x-amz-json-1.1",
            scope_date: None,
        }
    }
}

fn signed(server: &Server, target: &str, body: &str, how: Signing<'_>) -> Raw {
    let host = server.endpoint.trim_start_matches("http://").to_owned();
    let amz_date = sigv4::format_amz_date(OffsetDateTime::now_utc());
    let region = how.region.unwrap_or(&server.credentials.region);
    let mut headers = vec![
        ("content-type", how.content_type.to_owned()),
        ("host", host),
        ("x-amz-date", amz_date.clone()),
    ];
    if !target.is_empty() {
        headers.push(("x-amz-target", target.to_owned()));
    }
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let payload = sigv4::sha256_hex(body.as_bytes());
    let method = if target.is_empty() { "GET" } else { "POST" };
    let parts = sigv4::RequestParts {
        method,
        path: how.path,
        query: "",
        headers: &pairs,
        payload_sha256_hex: &payload,
    };
    let mut authorization =
        common::kms_authorization_in(&server.credentials, &parts, &amz_date, region);
    if let Some(scope_date) = how.scope_date {
        // Only the scope is rewritten: the service refuses it before computing anything.
        authorization =
            authorization.replace(&format!("/{}/", &amz_date[..8]), &format!("/{scope_date}/"));
    }
    let mut headers: Vec<(String, Vec<u8>)> = headers
        .into_iter()
        .filter(|(k, _)| *k != "host")
        .map(|(k, v)| (k.to_owned(), v.into_bytes()))
        .collect();
    headers.push(("authorization".into(), authorization.into_bytes()));
    Raw {
        method,
        path: how.path.to_owned(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

/// Send `raw` over a fresh connection, bytes exactly as given.
async fn send(server: &Server, raw: &Raw) -> Answer {
    let host = server.endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let mut request =
        format!("{} {} HTTP/1.1\r\nhost: {host}\r\n", raw.method, raw.path).into_bytes();
    for (name, value) in &raw.headers {
        request.extend_from_slice(name.as_bytes());
        request.extend_from_slice(b": ");
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            raw.body.len()
        )
        .as_bytes(),
    );
    request.extend_from_slice(&raw.body);
    stream.write_all(&request).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let position = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("x-keyledger-position: ")
                .map(str::to_owned)
        })
        .map(|p| p.trim().parse().unwrap());
    let body = serde_json::from_slice(&response[split + 4..]).unwrap_or(serde_json::Value::Null);
    Answer {
        status,
        body,
        position,
    }
}

/// The stored bytes of the event at `position`.
async fn stored_event(data_dir: &Path, position: i64) -> Vec<u8> {
    use sqlx::Row;
    let mut conn = ledger_connection(data_dir, true).await;
    sqlx::query("SELECT data FROM events WHERE position = ?")
        .bind(position)
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get::<Vec<u8>, _>("data")
}

/// The call was recorded in at most `max` bytes; its event, parsed.
async fn recorded_within(server: &Server, answer: &Answer, max: usize) -> serde_json::Value {
    let position = answer.position.expect("the call was recorded");
    let bytes = stored_event(&server.data_dir, position).await;
    assert!(
        bytes.len() <= max,
        "the event is {} bytes (at most {max} expected)",
        bytes.len()
    );
    serde_json::from_slice(&bytes).unwrap()
}

/// What a refusal must look like.
struct Refusal<'a> {
    status: u16,
    error_type: &'a str,
    /// A part of the message.
    says: &'a str,
    /// The most bytes its event may take.
    recorded_in: usize,
}

impl<'a> Refusal<'a> {
    fn new(error_type: &'a str, says: &'a str) -> Refusal<'a> {
        Refusal {
            status: 400,
            error_type,
            says,
            recorded_in: 4096,
        }
    }
}

/// Send `raw`, check the refusal, and return it with its recorded event.
async fn refused(server: &Server, raw: &Raw, want: Refusal<'_>) -> (Answer, serde_json::Value) {
    let answer = send(server, raw).await;
    assert_eq!(
        (answer.status, answer.error_type()),
        (want.status, want.error_type),
        "{}",
        answer.body
    );
    assert!(answer.message().contains(want.says), "{}", answer.message());
    let event = recorded_within(server, &answer, want.recorded_in).await;
    (answer, event)
}

/// A KMS JSON call signed as an SDK signs it.
fn call(server: &Server, operation: &str, body: &serde_json::Value) -> Raw {
    signed(
        server,
        &format!("TrentService.{operation}"),
        &body.to_string(),
        Signing::default(),
    )
}

/// ListKeys signed `how`.
fn list_keys(server: &Server, how: Signing<'_>) -> Raw {
    signed(server, "TrentService.ListKeys", "{}", how)
}

/// The server still answers a well-formed call.
async fn still_serves(server: &Server) {
    let keys = server.client.list_keys().send().await.unwrap();
    assert!(keys.keys.is_some());
}

async fn started() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data")).await;
    (dir, server)
}

fn unauthenticated_with(access_key_id: &str, amz_date: &str) -> Raw {
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={access_key_id}/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature={}",
        "0".repeat(64)
    );
    Raw {
        method: "POST",
        path: "/".into(),
        headers: vec![
            (
                "content-type".into(),
                b"application/x-amz-json-1.1".to_vec(),
            ),
            ("x-amz-target".into(), b"TrentService.ListKeys".to_vec()),
            ("x-amz-date".into(), amz_date.as_bytes().to_vec()),
            ("authorization".into(), authorization.into_bytes()),
        ],
        body: b"{}".to_vec(),
    }
}

#[tokio::test]
async fn huge_unauthenticated_headers_are_refused_and_recorded_small() {
    let (_dir, server) = started().await;
    // 60,000 characters each: over the header bound, refused before SigV4 reads them.
    let raw = unauthenticated_with(&"A".repeat(60_000), &"2".repeat(60_000));
    let want = Refusal::new("ValidationException", "over the 8192-byte limit");
    let (_, event) = refused(&server, &raw, want).await;
    let key = event["body"]["userIdentity"]["accessKeyId"]
        .as_str()
        .unwrap();
    assert!(key.ends_with("(truncated, 60000 bytes)"), "{key}");

    // Under the header bound, but no access key id IAM issues: refused before any lookup.
    let raw = unauthenticated_with(&"B".repeat(5_000), &"2".repeat(5_000));
    let want = Refusal::new("UnrecognizedClientException", "security token");
    let (_, event) = refused(&server, &raw, want).await;
    let key = event["body"]["userIdentity"]["accessKeyId"]
        .as_str()
        .unwrap();
    assert!(key.contains("5000 bytes"), "{key}");

    // A well-formed id with a 5,000-character date: the message quotes 32 characters.
    let raw = unauthenticated_with("AKIAAAAAAAAAAAAAAAAA", &"2".repeat(5_000));
    let want = Refusal::new("IncompleteSignatureException", "(5000 characters)");
    let (answer, _) = refused(&server, &raw, want).await;
    assert!(answer.message().len() < 200, "{}", answer.message());
    still_serves(&server).await;
}

#[tokio::test]
async fn an_oversized_encryption_context_is_refused_and_recorded_truncated() {
    let (_dir, server) = started().await;
    let key_id = common::create_key(&server.client, None).await;
    let encrypt = |context: serde_json::Value| serde_json::json!({"KeyId": key_id, "Plaintext": "aGVsbG8=", "EncryptionContext": context});
    let pairs: serde_json::Map<String, serde_json::Value> =
        (0..20_000).map(|i| (format!("k{i}"), "v".into())).collect();
    let raw = call(&server, "Encrypt", &encrypt(pairs.into()));
    let want = Refusal {
        recorded_in: 16 * 1024,
        ..Refusal::new("ValidationException", "at most 64 entries")
    };
    let (_, event) = refused(&server, &raw, want).await;
    let parameters = &event["body"]["requestParameters"];
    let context = parameters["encryptionContext"].as_str().unwrap();
    assert!(context.contains("truncated"), "{context}");
    assert_eq!(parameters["keyId"], key_id.as_str());

    // One 900 KB value.
    let raw = call(
        &server,
        "Encrypt",
        &encrypt(serde_json::json!({"k": "x".repeat(900_000)})),
    );
    let want = Refusal {
        recorded_in: 16 * 1024,
        ..Refusal::new("ValidationException", "at most 8192 bytes")
    };
    refused(&server, &raw, want).await;

    // Within the bounds: encrypts.
    let raw = call(&server, "Encrypt", &encrypt(serde_json::json!({"a": "b"})));
    assert_eq!(send(&server, &raw).await.status, 200);
    still_serves(&server).await;
}

#[tokio::test]
async fn a_key_id_over_its_bound_is_recorded_truncated() {
    let (_dir, server) = started().await;
    let body = serde_json::json!({"KeyId": "k".repeat(200_000), "Plaintext": "aGVsbG8="});
    let want = Refusal {
        recorded_in: 16 * 1024,
        ..Refusal::new("ValidationException", "less than or equal to 2048")
    };
    let (_, event) = refused(&server, &call(&server, "Encrypt", &body), want).await;
    let key_id = event["body"]["requestParameters"]["keyId"]
        .as_str()
        .unwrap();
    assert!(key_id.ends_with("(truncated, 200000 bytes)"), "{key_id}");
    still_serves(&server).await;
}

#[tokio::test]
async fn parse_errors_do_not_echo_values_into_the_ledger() {
    let (_dir, server) = started().await;
    let key_id = common::create_key(&server.client, None).await;
    let body = format!(r#"{{"KeyId": "{key_id}", "Plaintext": 123456789}}"#);
    let raw = signed(&server, "TrentService.Encrypt", &body, Signing::default());
    let want = Refusal::new("SerializationException", "invalid type");
    let (answer, event) = refused(&server, &raw, want).await;
    assert!(
        !answer.message().contains("123456789"),
        "{}",
        answer.message()
    );
    assert!(!event.to_string().contains("123456789"), "{event}");
    // An enum value is quoted short and escaped; the value itself stays in
    // requestParameters, within a failed call's 8 KiB.
    let algorithm = format!("\n{}", "X".repeat(5000));
    let body = serde_json::json!({"KeyId": key_id, "Plaintext": "aGVsbG8=", "EncryptionAlgorithm": algorithm});
    let want = Refusal {
        recorded_in: 12 * 1024,
        ..Refusal::new("ValidationException", "'\\nXXX")
    };
    let (answer, _) = refused(&server, &call(&server, "Encrypt", &body), want).await;
    assert!(answer.message().len() < 400, "{}", answer.message());
    still_serves(&server).await;
}

#[tokio::test]
async fn scope_dates_and_regions_are_checked_before_any_key_is_derived() {
    let (_dir, server) = started().await;
    // A scope date other than X-Amz-Date's: refused as such, before derivation.
    let how = Signing {
        scope_date: Some("20010101"),
        ..Signing::default()
    };
    let want = Refusal::new("InvalidSignatureException", "valid date");
    refused(&server, &list_keys(&server, how), want).await;

    // A region not of AWS's form: refused, and recorded in the default region, not as a
    // namespace of its own.
    for region in ["a1b2", "zz-top-999", "us-east-1x"] {
        let how = Signing {
            region: Some(region),
            ..Signing::default()
        };
        let want = Refusal::new("InvalidSignatureException", "valid region");
        let (_, event) = refused(&server, &list_keys(&server, how), want).await;
        let recorded = &event["body"]["awsRegion"];
        assert_eq!(recorded, server.credentials.region.as_str(), "{region}");
    }
    // Another region of AWS's form is a region like any.
    let how = Signing {
        region: Some("ap-south-1"),
        ..Signing::default()
    };
    assert_eq!(send(&server, &list_keys(&server, how)).await.status, 200);
    still_serves(&server).await;
}

#[tokio::test]
async fn signed_headers_appended_to_or_not_ascii_are_refused() {
    let (_dir, server) = started().await;
    // A second X-Amz-Target after signing, not ASCII: it was dropped before verification.
    let mut raw = list_keys(&server, Signing::default());
    raw.headers
        .push(("x-amz-target".into(), b"TrentService.Cre\xe9teKey".to_vec()));
    let want = Refusal::new("IncompleteSignatureException", "more than once");
    refused(&server, &raw, want).await;

    // The only copy, not ASCII (signed as the client saw it): refused.
    let mut raw = list_keys(&server, Signing::default());
    let date = raw
        .headers
        .iter_mut()
        .find(|(k, _)| k == "x-amz-date")
        .unwrap();
    date.1.push(0xe9);
    let want = Refusal::new("IncompleteSignatureException", "not ASCII");
    refused(&server, &raw, want).await;

    // Unsigned, not ASCII: no matter.
    let mut raw = list_keys(&server, Signing::default());
    raw.headers.push(("x-custom".into(), b"caf\xe9".to_vec()));
    assert_eq!(send(&server, &raw).await.status, 200);
    still_serves(&server).await;
}

#[tokio::test]
async fn native_routes_see_the_path_sigv4_verified() {
    let (_dir, server) = started().await;
    let key_id = common::create_key(&server.client, None).await;
    // Signed as `/v1/keys/x/../KID` (which SigV4 normalises to `/v1/keys/KID`): routed as
    // that same path, so it reads KID, not a key named `x/../KID`; `//` collapses alike.
    for path in [
        format!("/v1/keys/x/../{key_id}"),
        format!("/v1//keys/./{key_id}"),
    ] {
        let how = Signing {
            path: &path,
            ..Signing::default()
        };
        let answer = send(&server, &signed(&server, "", "", how)).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert_eq!(answer.body["KeyMetadata"]["KeyId"], key_id.as_str());
        let event = recorded_within(&server, &answer, 8192).await;
        assert!(event.to_string().contains(&key_id));
    }
    still_serves(&server).await;
}

#[tokio::test]
async fn the_json_endpoint_requires_its_content_type() {
    let (_dir, server) = started().await;
    for content_type in [
        "application/json",
        "text/plain",
        "application/x-amz-json-1.0",
    ] {
        let how = Signing {
            content_type,
            ..Signing::default()
        };
        let want = Refusal::new("UnknownOperationException", "Content-Type");
        refused(&server, &list_keys(&server, how), want).await;
    }
    // Parameters and case do not matter.
    let how = Signing {
        content_type: "Application/X-Amz-Json-1.1; charset=utf-8",
        ..Signing::default()
    };
    assert_eq!(send(&server, &list_keys(&server, how)).await.status, 200);
    // The STS query protocol on the same path (form-urlencoded) still answers.
    let sts = common::sts_client(&server.endpoint, &server.credentials);
    let me = sts.get_caller_identity().send().await.unwrap();
    assert_eq!(me.account(), Some(server.credentials.account_id.as_str()));
    still_serves(&server).await;
}

#[tokio::test]
async fn only_verified_requests_fill_their_keys_signing_key_cache() {
    let dir = tempfile::tempdir().unwrap();
    let node = common::InProcess::start(&dir.path().join("data")).await;
    let id = node.credentials.access_key_id.clone();
    let cached = || {
        node.shared
            .authenticator()
            .unwrap()
            .cached_signing_keys(&id)
    };
    // Someone who knows the access key id but not its secret, in many regions: refused,
    // and nothing of theirs is cached.
    for i in 1..=20 {
        let region = format!("xx-test-{i}");
        let wrong = common::client(&node.endpoint, &region, &id, "not-the-secret");
        let refused = wrong.list_keys().send().await;
        assert_eq!(
            common::sdk_code(refused.unwrap_err()),
            "InvalidSignatureException"
        );
    }
    assert_eq!(cached(), 0);
    node.client.list_keys().send().await.unwrap();
    assert_eq!(cached(), 1);
    // The key's holder in many regions: bounded, oldest out.
    let secret = node.credentials.secret_access_key.clone();
    for i in 1..=20 {
        let region = format!("xx-test-{i}");
        let client = common::client(&node.endpoint, &region, &id, &secret);
        client.list_keys().send().await.unwrap();
    }
    assert_eq!(cached(), 16);
    node.client.list_keys().send().await.unwrap();
    node.stop().await;
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `keyledger serve` on `data_dir` that is expected to refuse to start: its stderr.
fn refused_start(data_dir: &Path) -> String {
    let out = std::process::Command::new(common::BIN)
        .args(["serve", "--data-dir"])
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("KEYLEDGER_ROOT_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success(), "it started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn data_dir_files_are_owner_only_and_foreign_dirs_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data).await;
    common::create_key(&server.client, None).await;
    for name in [
        "ledger.db",
        "ledger.db-wal",
        "ledger.db-shm",
        "root.key",
        "admin-credentials.json",
    ] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    assert_eq!(mode(&data), 0o700);
    server.stop();

    // root.key readable by the group: refused, with what to do.
    std::fs::set_permissions(
        data.join("root.key"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let stderr = refused_start(&data);
    assert!(stderr.contains("chmod 600"), "{stderr}");
    std::fs::set_permissions(
        data.join("root.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let server = Server::start(&data).await;
    still_serves(&server).await;
    server.stop();

    // A home-like directory (0755, other files): not chmodded, nothing written.
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(home.join(".profile"), b"").unwrap();
    let stderr = refused_start(&home);
    assert!(stderr.contains(".profile"), "{stderr}");
    assert_eq!(mode(&home), 0o755);
    assert!(!home.join("ledger.db").exists());
}

/// Spawn `keyledger serve` with core dumps allowed by the shell (`ulimit -c unlimited`)
/// and `extra` arguments; returns the child once it is ready.
fn spawn_ready(data_dir: &Path, extra: &[&str], root_key: &str) -> std::process::Child {
    use std::io::BufRead;
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -c unlimited && exec "$@""#)
        .arg("sh")
        .arg(common::BIN)
        .args(["serve", "--data-dir"])
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env("KEYLEDGER_ROOT_KEY", root_key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    for line in std::io::BufReader::new(stdout).lines() {
        if line.unwrap() == "ready" {
            break;
        }
    }
    child
}

fn core_limit(pid: u32) -> String {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    line.split_whitespace().nth(4).unwrap().to_owned()
}

#[tokio::test]
async fn the_root_key_leaves_the_environment_and_no_core_is_dumped() {
    let dir = tempfile::tempdir().unwrap();
    let root_key = "ab".repeat(32);
    let mut child = spawn_ready(&dir.path().join("a"), &[], &root_key);
    let environ = std::fs::read(format!("/proc/{}/environ", child.id())).unwrap();
    assert!(
        !environ
            .windows(root_key.len())
            .any(|w| w == root_key.as_bytes()),
        "the root key is readable in /proc/<pid>/environ"
    );
    assert_eq!(core_limit(child.id()), "0");
    // The key from the environment was used: no key file was written.
    assert!(!dir.path().join("a/root.key").exists());
    child.kill().unwrap();
    child.wait().unwrap();

    let mut child = spawn_ready(&dir.path().join("b"), &["--allow-core-dumps"], &root_key);
    assert_eq!(core_limit(child.id()), "unlimited");
    child.kill().unwrap();
    child.wait().unwrap();
}
