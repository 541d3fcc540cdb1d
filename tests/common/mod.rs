//! Black-box harness: the real `keyledger` binary on port 0 with a temp data
//! dir, driven by the real `aws-sdk-kms` client.
#![allow(dead_code)]

use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_keyledger");

#[derive(Debug, Clone, serde::Deserialize)]
pub struct AdminCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: String,
    pub region: String,
}

pub struct Server {
    child: Option<Child>,
    pub endpoint: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub credentials: AdminCredentials,
    pub client: aws_sdk_kms::Client,
}

impl Server {
    /// Start on `data_dir`, writing the server's log next to it; returns once `/healthz` says 200.
    pub async fn start(data_dir: &Path) -> Server {
        Self::start_with(data_dir, &[]).await
    }

    pub async fn start_with(data_dir: &Path, extra_args: &[&str]) -> Server {
        Self::start_env(data_dir, extra_args, &[]).await
    }

    /// Start with extra arguments and environment variables.
    pub async fn start_env(data_dir: &Path, extra_args: &[&str], env: &[(&str, &str)]) -> Server {
        let server = Self::launch(data_dir, "127.0.0.1:0", extra_args, env, None).await;
        server.wait_healthy().await;
        server
    }

    /// Start serving HTTPS (`extra_args` name the certificate and key), with a client that
    /// trusts `ca` (PEM); returns once a signed call succeeds over TLS.
    pub async fn start_tls(data_dir: &Path, extra_args: &[&str], ca: &Path) -> Server {
        let server = Self::launch(data_dir, "127.0.0.1:0", extra_args, &[], Some(ca)).await;
        assert!(
            server.endpoint.starts_with("https://"),
            "{}",
            server.endpoint
        );
        for _ in 0..200 {
            if server.client.list_keys().send().await.is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server never answered over TLS");
    }

    /// Start listening on `listen` (plain HTTP) with extra arguments.
    pub async fn start_on(data_dir: &Path, listen: &str, extra_args: &[&str]) -> Server {
        let server = Self::launch(data_dir, listen, extra_args, &[], None).await;
        server.wait_healthy().await;
        server
    }

    /// The server's process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    /// Send `signal` and wait for the process to end; its exit status.
    pub fn signal_and_wait(mut self, signal: i32) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        let sent = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        assert_eq!(sent, 0, "kill failed");
        child.wait().unwrap()
    }

    /// Wait for the process to end (after a signal sent by pid); its exit status.
    pub fn wait(mut self) -> std::process::ExitStatus {
        self.child.take().unwrap().wait().unwrap()
    }

    async fn launch(
        data_dir: &Path,
        listen: &str,
        extra_args: &[&str],
        env: &[(&str, &str)],
        ca: Option<&Path>,
    ) -> Server {
        let log = data_dir.with_extension("log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--data-dir"])
            .arg(data_dir)
            .args(["--listen", listen])
            .args(extra_args)
            .env("KEYLEDGER_LOG", "debug")
            // AWS's request quotas (CreateKey: 5 per second) would throttle suites that
            // create keys in a loop; tests/quotas.rs turns them on (KEYLEDGER_QUOTAS=on).
            .env("KEYLEDGER_QUOTAS", "off")
            .env_remove("KEYLEDGER_ROOT_KEY")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("spawn keyledger");
        let stdout = child.stdout.take().unwrap();
        let (endpoint, credentials_path) = tokio::task::spawn_blocking(move || {
            let mut endpoint = None;
            let mut credentials = None;
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap();
                if let Some(url) = line.strip_prefix("listening on ") {
                    endpoint = Some(url.to_owned());
                }
                if let Some(path) = line.strip_prefix("admin credentials: ") {
                    credentials = Some(PathBuf::from(path));
                }
                if line == "ready" {
                    break;
                }
            }
            (
                endpoint.expect("no 'listening on' line"),
                credentials.expect("no 'admin credentials' line"),
            )
        })
        .await
        .unwrap();
        let credentials: AdminCredentials =
            serde_json::from_slice(&std::fs::read(&credentials_path).unwrap()).unwrap();
        let client = match ca {
            None => client(
                &endpoint,
                &credentials.region,
                &credentials.access_key_id,
                &credentials.secret_access_key,
            ),
            Some(ca) => tls_client(
                &endpoint,
                &credentials.region,
                &credentials.access_key_id,
                &credentials.secret_access_key,
                ca,
            ),
        };
        Server {
            child: Some(child),
            endpoint,
            data_dir: data_dir.to_owned(),
            log,
            credentials,
            client,
        }
    }

    pub async fn wait_healthy(&self) {
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(r) = http.get(format!("{}/healthz", self.endpoint)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server never became healthy");
    }

    /// A client for another region or identity against this server.
    pub fn client_for(
        &self,
        region: &str,
        access_key_id: &str,
        secret: &str,
    ) -> aws_sdk_kms::Client {
        client(&self.endpoint, region, access_key_id, secret)
    }

    /// SIGTERM, then wait: a clean shutdown.
    pub fn stop(mut self) {
        let mut child = self.child.take().unwrap();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let _ = child.wait();
    }

    /// SIGKILL: no shutdown at all.
    pub fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn client(
    endpoint: &str,
    region: &str,
    access_key_id: &str,
    secret: &str,
) -> aws_sdk_kms::Client {
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            access_key_id,
            secret,
            None,
            None,
            "keyledger-test",
        ))
        .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

/// An SDK client over HTTPS that trusts only `ca` (PEM): the SDK's own hyper + rustls
/// client on the aws-lc-rs provider, the one it uses against AWS.
pub fn tls_client(
    endpoint: &str,
    region: &str,
    access_key_id: &str,
    secret: &str,
    ca: &Path,
) -> aws_sdk_kms::Client {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(std::fs::read(ca).unwrap());
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(trust)
                .build()
                .unwrap(),
        )
        .build_https();
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .http_client(http)
        .credentials_provider(Credentials::new(
            access_key_id,
            secret,
            None,
            None,
            "keyledger-test",
        ))
        .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

/// The real `aws-sdk-sts` client for `endpoint`, signing with the admin's credentials.
pub fn sts_client(endpoint: &str, credentials: &AdminCredentials) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new(credentials.region.clone()))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                &credentials.access_key_id,
                &credentials.secret_access_key,
                None,
                None,
                "test",
            ))
            .build(),
    )
}

/// A throwaway CA in `dir` (`ca.pem`) and a certificate it signs for 127.0.0.1 and
/// localhost (`NAME.pem`, `NAME.key`), made by `tests/clients/test_ca.sh` (openssl CLI).
pub fn issue_certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/test_ca.sh");
    let status = Command::new("sh")
        .arg(script)
        .arg(dir)
        .arg(name)
        .status()
        .expect("sh tests/clients/test_ca.sh (needs the openssl CLI)");
    assert!(status.success(), "test_ca.sh failed");
    (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    )
}

/// The AWS error type (`__type`) of a failed SDK call.
pub fn error_code<E, R>(
    result: Result<impl std::fmt::Debug, aws_sdk_kms::error::SdkError<E, R>>,
) -> String
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match result {
        Ok(ok) => panic!("expected an error, got {ok:?}"),
        Err(e) => e
            .as_service_error()
            .and_then(|s| s.code())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("not a service error: {e:?}")),
    }
}

/// Run `keyledger verify`, returning (success, stdout). Beside a running server it first
/// waits (up to 5 s) for the server's checkpoint of the newest events, which comes within a
/// second: `verify` fails a log whose tail no checkpoint covers.
pub fn verify(data_dir: &Path) -> (bool, String) {
    wait_for_checkpoint(data_dir);
    command(&["verify"], data_dir)
}

/// Wait until the newest checkpoint covers the whole log (or 5 s pass).
pub fn wait_for_checkpoint(data_dir: &Path) {
    let path = data_dir.join("ledger.db");
    if !path.exists() {
        return;
    }
    // Its own thread and runtime: callers are async tests, already inside a runtime.
    let covered = || {
        let path = path.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                use sqlx::ConnectOptions;
                let Ok(mut conn) = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(&path)
                    .read_only(true)
                    .connect()
                    .await
                else {
                    return true;
                };
                let sizes: Result<(i64, i64), _> = sqlx::query_as(
                    "SELECT (SELECT COALESCE(MAX(position), 0) FROM events), \
                        (SELECT COALESCE(MAX(tree_size), 0) FROM trail_checkpoints)",
                )
                .fetch_one(&mut conn)
                .await;
                sizes.map_or(true, |(head, signed)| signed >= head)
            })
        })
        .join()
        .unwrap()
    };
    for _ in 0..50 {
        if covered() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Run `keyledger ARGS… --data-dir DIR`: whether it succeeded, and its stdout and stderr.
pub fn command(args: &[&str], data_dir: &Path) -> (bool, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// A connection to the data dir's ledger file (read-only unless asked), beside a server.
pub async fn ledger_connection(data_dir: &Path, read_only: bool) -> sqlx::SqliteConnection {
    use sqlx::ConnectOptions;
    sqlx::sqlite::SqliteConnectOptions::new()
        .filename(data_dir.join("ledger.db"))
        .read_only(read_only)
        .connect()
        .await
        .unwrap()
}

/// Every stored event's JSON, in log order (read-only, beside a running server).
pub async fn stored_events(data_dir: &Path) -> Vec<serde_json::Value> {
    use sqlx::Row;
    let mut conn = ledger_connection(data_dir, true).await;
    sqlx::query("SELECT data FROM events ORDER BY position")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|row| serde_json::from_slice(&row.get::<Vec<u8>, _>("data")).unwrap())
        .collect()
}

/// The usage events (CloudTrail records) in log order.
pub async fn trail(data_dir: &Path) -> Vec<serde_json::Value> {
    stored_events(data_dir)
        .await
        .into_iter()
        .filter(|e| e["event_type"] == "ApiCallRecorded")
        .map(|e| e["body"].clone())
        .collect()
}

/// The real service in this process (real SQLite, real HTTP on port 0, real SDK client)
/// with a clock the test moves, for what depends on time: rotation, deletion.
pub struct InProcess {
    pub service: std::sync::Arc<keyledger::app::Service>,
    pub clock: std::sync::Arc<keyledger::app::ManualClock>,
    pub client: aws_sdk_kms::Client,
    pub endpoint: String,
    pub credentials: AdminCredentials,
    pub data_dir: PathBuf,
    /// The HTTP layer's state (its authenticator, for what only it knows).
    pub shared: std::sync::Arc<keyledger::http::Shared>,
    handle: actix_web::dev::ServerHandle,
}

impl InProcess {
    pub async fn start(data_dir: &Path) -> InProcess {
        use keyledger::app::bootstrap::{open_with, Settings};
        use keyledger::domain::ids::Region;
        let clock = std::sync::Arc::new(keyledger::app::ManualClock::new(
            time::OffsetDateTime::now_utc(),
        ));
        let settings = Settings::local(data_dir.to_owned(), Region::parse("us-east-1").unwrap());
        let opened = open_with(&settings, |store| store, clock.clone())
            .await
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let shared = std::sync::Arc::new(keyledger::http::Shared::new(keyledger::http::Options {
            quotas: keyledger::app::quotas::QuotaSettings::off(),
            ..Default::default()
        }));
        shared.set_ready(opened.service.clone());
        let server = keyledger::http::serve(listener, shared.clone(), 1).unwrap();
        let handle = server.handle();
        tokio::spawn(server);
        let credentials: AdminCredentials =
            serde_json::from_slice(&std::fs::read(&opened.credentials_path).unwrap()).unwrap();
        let client = client(
            &endpoint,
            &credentials.region,
            &credentials.access_key_id,
            &credentials.secret_access_key,
        );
        InProcess {
            service: opened.service,
            clock,
            client,
            endpoint,
            credentials,
            data_dir: data_dir.to_owned(),
            shared,
            handle,
        }
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }

    /// Advance the clock and run the scheduler once.
    pub async fn advance(&self, by: time::Duration) -> usize {
        use keyledger::app::Clock;
        self.clock.advance(by);
        let _ = self.clock.now();
        self.service.run_due().await.unwrap()
    }
}

/// Check every stored event against `schemas/`; returns the event types seen.
pub async fn check_schemas(data_dir: &Path) -> std::collections::BTreeSet<String> {
    let schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let load = |path: PathBuf| {
        let schema: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let envelope = load(schemas.join("envelope.v1.json"));
    let mut seen = std::collections::BTreeSet::new();
    for event in stored_events(data_dir).await {
        let errors: Vec<String> = envelope
            .iter_errors(&event)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "envelope does not match its schema: {errors:?}\n{event:#}"
        );
        let event_type = event["event_type"].as_str().unwrap().to_owned();
        let body = load(
            schemas
                .join("events")
                .join(format!("{event_type}.v{}.json", event["event_version"])),
        );
        let errors: Vec<String> = body
            .iter_errors(&event["body"])
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "{event_type} does not match its schema: {errors:?}\n{event:#}"
        );
        seen.insert(event_type);
    }
    seen
}

/// The AWS error type of an SDK error.
pub fn sdk_code<E, R>(e: aws_sdk_kms::error::SdkError<E, R>) -> String
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{e:?}"))
}

/// A SigV4-signed GET of the native REST API: (status, JSON body).
pub async fn signed_get(
    endpoint: &str,
    credentials: &AdminCredentials,
    path_and_query: &str,
) -> (u16, serde_json::Value) {
    let response = signed_get_response(endpoint, credentials, path_and_query).await;
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// A SigV4-signed GET, the response as it came.
pub async fn signed_get_response(
    endpoint: &str,
    credentials: &AdminCredentials,
    path_and_query: &str,
) -> reqwest::Response {
    use keyledger::http::sigv4;
    let host = endpoint.trim_start_matches("http://").to_owned();
    let amz_date = sigv4::format_amz_date(time::OffsetDateTime::now_utc());
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let headers = [("host", host.as_str()), ("x-amz-date", amz_date.as_str())];
    let payload = sigv4::sha256_hex(b"");
    let parts = sigv4::RequestParts {
        method: "GET",
        path,
        query,
        headers: &headers,
        payload_sha256_hex: &payload,
    };
    let authorization = kms_authorization(credentials, &parts, &amz_date);
    reqwest::Client::new()
        .get(format!("{endpoint}{path_and_query}"))
        .header("x-amz-date", &amz_date)
        .header("authorization", authorization)
        .send()
        .await
        .unwrap()
}

/// The SigV4 `Authorization` header of `parts` for service `kms` with the admin's key.
fn kms_authorization(
    credentials: &AdminCredentials,
    parts: &keyledger::http::sigv4::RequestParts<'_>,
    amz_date: &str,
) -> String {
    kms_authorization_in(credentials, parts, amz_date, &credentials.region)
}

/// [`kms_authorization`] with a credential scope in `region`.
pub fn kms_authorization_in(
    credentials: &AdminCredentials,
    parts: &keyledger::http::sigv4::RequestParts<'_>,
    amz_date: &str,
    region: &str,
) -> String {
    use keyledger::http::sigv4;
    let key = sigv4::derive_signing_key(
        credentials.secret_access_key.as_bytes(),
        &amz_date[..8],
        region,
        "kms",
    );
    sigv4::authorization_header(
        parts,
        &credentials.access_key_id,
        &key,
        amz_date,
        region,
        "kms",
    )
}

/// A SigV4-signed AWS KMS JSON 1.1 call (`TrentService.<operation>`), the response as it came.
pub async fn signed_kms_call(
    endpoint: &str,
    credentials: &AdminCredentials,
    operation: &str,
    body: &serde_json::Value,
) -> reqwest::Response {
    try_signed_kms_call(endpoint, credentials, operation, body)
        .await
        .unwrap()
}

/// [`signed_kms_call`], with the transport error when there is no server to answer.
pub async fn try_signed_kms_call(
    endpoint: &str,
    credentials: &AdminCredentials,
    operation: &str,
    body: &serde_json::Value,
) -> reqwest::Result<reqwest::Response> {
    use keyledger::http::sigv4;
    let host = endpoint.trim_start_matches("http://").to_owned();
    let amz_date = sigv4::format_amz_date(time::OffsetDateTime::now_utc());
    let target = format!("TrentService.{operation}");
    let body = body.to_string();
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("host", host.as_str()),
        ("x-amz-date", amz_date.as_str()),
        ("x-amz-target", target.as_str()),
    ];
    let payload = sigv4::sha256_hex(body.as_bytes());
    let parts = sigv4::RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        payload_sha256_hex: &payload,
    };
    let authorization = kms_authorization(credentials, &parts, &amz_date);
    let mut request = reqwest::Client::new()
        .post(format!("{endpoint}/"))
        .header("authorization", authorization)
        .body(body);
    for (name, value) in headers {
        if name != "host" {
            request = request.header(name, value);
        }
    }
    request.send().await
}

/// A POST signed by the aws-sigv4 crate (an implementation independent of the server's) for
/// SigV4 service `service`, with `X-Amz-Target: target` and an AWS JSON 1.1 body, as the AWS
/// SDKs send CloudTrail's (and KMS's) calls: (status, JSON body).
pub async fn signed_json_post(
    endpoint: &str,
    credentials: &AdminCredentials,
    region: &str,
    service: &str,
    target: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4;
    let identity = aws_credential_types::Credentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        None,
        None,
        "keyledger-test",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let host = endpoint.trim_start_matches("http://").to_owned();
    let body = body.to_string();
    let headers = [
        ("host", host.as_str()),
        ("x-amz-target", target),
        ("content-type", "application/x-amz-json-1.1"),
    ];
    let request = SignableRequest::new(
        "POST",
        format!("{endpoint}/"),
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    let mut request = reqwest::Client::new()
        .post(format!("{endpoint}/"))
        .header("x-amz-target", target)
        .header("content-type", "application/x-amz-json-1.1")
        .body(body);
    for (name, value) in instructions.headers() {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// CloudTrail's LookupEvents target.
pub const LOOKUP_EVENTS: &str =
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents";

/// Create a key (symmetric by default, or of `spec` for `usage`) and return its id.
pub async fn create_key(
    kms: &aws_sdk_kms::Client,
    spec: Option<(
        aws_sdk_kms::types::KeySpec,
        aws_sdk_kms::types::KeyUsageType,
    )>,
) -> String {
    let mut create = kms.create_key();
    if let Some((spec, usage)) = spec {
        create = create.key_spec(spec).key_usage(usage);
    }
    create.send().await.unwrap().key_metadata.unwrap().key_id
}

/// Every file under `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A valid key policy that lets the account's principals do everything (AWS's default
/// policy), with its statement named `sid` so two of them differ.
pub fn root_policy(account_id: &str, sid: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account_id}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string()
}

/// [`root_policy`] with a `Deny` to everyone for each `(sid, action, condition)`: the shape
/// of AWS's guard-rail statements ("deny insecure transport", "deny unless …").
pub fn root_policy_denying(
    account_id: &str,
    denials: &[(&str, &str, serde_json::Value)],
) -> String {
    let mut statements = vec![serde_json::json!({
        "Sid": "root",
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account_id}:root")},
        "Action": "kms:*",
        "Resource": "*"
    })];
    for (sid, action, condition) in denials {
        statements.push(serde_json::json!({
            "Sid": sid, "Effect": "Deny", "Principal": "*", "Action": action,
            "Resource": "*", "Condition": condition
        }));
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// A server on a fresh temp data dir (keep the dir alive as long as the server).
pub async fn started_server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data")).await;
    (dir, server)
}

/// Create a key of `spec` for `usage`; its id.
pub async fn asymmetric_key(
    s: &Server,
    spec: aws_sdk_kms::types::KeySpec,
    usage: aws_sdk_kms::types::KeyUsageType,
) -> String {
    s.client
        .create_key()
        .key_spec(spec)
        .key_usage(usage)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
}

/// GetPublicKey's DER SubjectPublicKeyInfo.
pub async fn public_key(s: &Server, key: &str) -> Vec<u8> {
    s.client
        .get_public_key()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .public_key
        .unwrap()
        .into_inner()
}

/// Import `material` into `key` (made with `Origin` EXTERNAL) as a client does: import
/// parameters, then RSAES_OAEP_SHA_256 by RustCrypto's `rsa`: (the imported material's id,
/// the wrapped material sent).
#[allow(dead_code)]
pub async fn import_material(
    client: &aws_sdk_kms::Client,
    key: &str,
    material: &[u8],
) -> (String, Vec<u8>) {
    use aws_sdk_kms::types::{AlgorithmSpec, ExpirationModelType, WrappingKeySpec};
    use rsa::pkcs8::DecodePublicKey as _;
    let params = client
        .get_parameters_for_import()
        .key_id(key)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await
        .unwrap();
    let wrapped = rsa::RsaPublicKey::from_public_key_der(params.public_key().unwrap().as_ref())
        .unwrap()
        .encrypt(
            &mut rand::thread_rng(),
            rsa::Oaep::new::<rsa::sha2::Sha256>(),
            material,
        )
        .unwrap();
    let id = client
        .import_key_material()
        .key_id(key)
        .import_token(params.import_token.unwrap())
        .encrypted_key_material(aws_sdk_kms::primitives::Blob::new(wrapped.clone()))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .unwrap()
        .key_material_id
        .unwrap();
    (id, wrapped)
}

#[allow(dead_code)]
pub fn read_credentials(path: &Path) -> AdminCredentials {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A second account through the running server (`POST /v1/accounts`), its root credentials.
#[allow(dead_code)]
pub fn create_account(server: &Server, dir: &Path, account: &str) -> AdminCredentials {
    let out = dir.join(format!("{account}.json"));
    let (ok, output) = command(
        &[
            "admin",
            "create-account",
            "--account-id",
            account,
            "--out",
            out.to_str().unwrap(),
            "--endpoint",
            &server.endpoint,
        ],
        &server.data_dir,
    );
    assert!(ok, "{output}");
    read_credentials(&out)
}

/// A user in the account `iam` manages, with an access key and (if any) one inline policy;
/// its KMS client.
pub async fn iam_user(
    s: &Server,
    iam: &aws_sdk_iam::Client,
    name: &str,
    policy: Option<serde_json::Value>,
) -> (aws_sdk_kms::Client, AdminCredentials) {
    iam.create_user().user_name(name).send().await.unwrap();
    if let Some(policy) = policy {
        iam.put_user_policy()
            .user_name(name)
            .policy_name("kms")
            .policy_document(policy.to_string())
            .send()
            .await
            .unwrap();
    }
    let key = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    let credentials = AdminCredentials {
        access_key_id: key.access_key_id().to_owned(),
        secret_access_key: key.secret_access_key().to_owned(),
        account_id: s.credentials.account_id.clone(),
        region: s.credentials.region.clone(),
    };
    let client = s.client_for(
        &s.credentials.region,
        key.access_key_id(),
        key.secret_access_key(),
    );
    (client, credentials)
}
