//! Operations: HTTPS (rustls) with the real SDK, SIGHUP certificate reload, the refusal of
//! plain HTTP off loopback, `/readyz` once the ledger writer has stopped, and a graceful
//! stop on SIGTERM.

mod common;

use aws_sdk_kms::primitives::Blob;
use common::{command, issue_certificate, stored_events, Server, BIN};
use keyledger::app::bootstrap::{open_with, Settings};
use keyledger::app::SystemClock;
use keyledger::domain::ids::Region;
use keyledger::ledger::{
    AppendBatch, AppendOutcome, CheckpointSigner, Head, LedgerStore, StoreError, StoredCheckpoint,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A TLS handshake with rustls trusting only `ca`, offering `versions`: the certificate the
/// server presented (DER) and the version negotiated.
fn handshake(
    address: &str,
    ca: &Path,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> (Vec<u8>, rustls::ProtocolVersion) {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(keyledger::http::tls::provider(false))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut socket = std::net::TcpStream::connect(address).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut socket).unwrap();
    }
    (
        conn.peer_certificates().unwrap()[0].to_vec(),
        conn.protocol_version().unwrap(),
    )
}

fn leaf_der(pem: &Path) -> Vec<u8> {
    CertificateDer::from_pem_file(pem).unwrap().to_vec()
}

/// `aws:SecureTransport` says whether the call came over TLS: AWS's usual "deny insecure
/// transport" statement lets a caller through over HTTPS and stops it over plain HTTP.
/// (Before, the key was always `false`, so that statement locked every caller out.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_secure_transport_is_true_over_tls_and_false_over_plain_http() {
    let root = tempfile::tempdir().unwrap();
    let pki = root.path().join("pki");
    let (cert, key) = issue_certificate(&pki, "server");
    let tls = Server::start_tls(
        &root.path().join("tls"),
        &["--tls-cert", path(&cert), "--tls-key", path(&key)],
        &pki.join("ca.pem"),
    )
    .await;
    let plain = Server::start(&root.path().join("plain")).await;
    for (server, over_tls) in [(&tls, true), (&plain, false)] {
        let policy = common::root_policy_denying(
            &server.credentials.account_id,
            &[(
                "tls-only",
                "kms:*",
                serde_json::json!({"Bool": {"aws:SecureTransport": "false"}}),
            )],
        );
        let key_id = server
            .client
            .create_key()
            .policy(policy)
            .bypass_policy_lockout_safety_check(true)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_id;
        let encrypted = server
            .client
            .encrypt()
            .key_id(&key_id)
            .plaintext(Blob::new(b"in transit".to_vec()))
            .send()
            .await;
        if over_tls {
            assert!(encrypted.is_ok(), "{encrypted:?}");
        } else {
            assert_eq!(common::error_code(encrypted), "AccessDeniedException");
        }
    }
    tls.stop();
    plain.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_serves_the_sdk_with_tls_1_2_and_1_3_and_refuses_tls_1_1() {
    let root = tempfile::tempdir().unwrap();
    let pki = root.path().join("pki");
    let (cert, key) = issue_certificate(&pki, "server");
    let ca = pki.join("ca.pem");
    let server = Server::start_tls(
        &root.path().join("data"),
        &["--tls-cert", path(&cert), "--tls-key", path(&key)],
        &ca,
    )
    .await;

    // The real SDK over HTTPS: an audited round trip whose plaintext crosses only TLS.
    let kms = &server.client;
    let key_id = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let blob = kms
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(b"over tls".to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let plain = kms
        .decrypt()
        .ciphertext_blob(blob)
        .send()
        .await
        .unwrap()
        .plaintext
        .unwrap();
    assert_eq!(plain.as_ref(), b"over tls");

    // Nothing answers plain HTTP on the TLS port.
    let plain_endpoint = server.endpoint.replacen("https://", "http://", 1);
    let over_http = common::client(
        &plain_endpoint,
        &server.credentials.region,
        &server.credentials.access_key_id,
        &server.credentials.secret_access_key,
    );
    assert!(over_http.list_keys().send().await.is_err());

    let address = server.endpoint.trim_start_matches("https://").to_owned();
    let (presented, v12) = handshake(&address, &ca, &[&rustls::version::TLS12]);
    assert_eq!(v12, rustls::ProtocolVersion::TLSv1_2);
    assert_eq!(presented, leaf_der(&cert));
    let (_, v13) = handshake(&address, &ca, &[&rustls::version::TLS13]);
    assert_eq!(v13, rustls::ProtocolVersion::TLSv1_3);

    // TLS 1.1 (openssl's client, which still speaks it at security level 0): the server
    // answers the ClientHello with an alert, and no session is made.
    let out = std::process::Command::new("openssl")
        .args(["s_client", "-connect", &address, "-tls1_1"])
        .args(["-cipher", "DEFAULT@SECLEVEL=0"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the openssl CLI");
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // (s_client exits 0 either way: it reports, it does not judge.)
    assert!(
        said.contains("SSL alert number"),
        "the server did not refuse it with an alert: {said}"
    );
    assert!(
        said.contains("Cipher is (NONE)"),
        "a TLS 1.1 session was made: {said}"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_certificate_from_the_config_files_paths() {
    let root = tempfile::tempdir().unwrap();
    let pki = root.path().join("pki");
    let (one_cert, one_key) = issue_certificate(&pki, "one");
    let (two_cert, two_key) = issue_certificate(&pki, "two");
    let ca = pki.join("ca.pem");
    let live_cert = root.path().join("live.pem");
    let live_key = root.path().join("live.key");
    std::fs::copy(&one_cert, &live_cert).unwrap();
    std::fs::copy(&one_key, &live_key).unwrap();
    let config = root.path().join("keyledger.toml");
    std::fs::write(
        &config,
        format!(
            "tls_cert = {:?}\ntls_key = {:?}\n",
            path(&live_cert),
            path(&live_key)
        ),
    )
    .unwrap();
    let server =
        Server::start_tls(&root.path().join("data"), &["--config", path(&config)], &ca).await;
    let address = server.endpoint.trim_start_matches("https://").to_owned();
    let served = || handshake(&address, &ca, &[&rustls::version::TLS13]).0;
    assert_eq!(served(), leaf_der(&one_cert));

    // Renewed in place, then SIGHUP: new connections get the new certificate.
    std::fs::copy(&two_cert, &live_cert).unwrap();
    std::fs::copy(&two_key, &live_key).unwrap();
    let hup = |pid: u32| {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGHUP) }, 0);
    };
    hup(server.pid());
    let mut reloaded = false;
    for _ in 0..100 {
        if served() == leaf_der(&two_cert) {
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reloaded, "SIGHUP did not bring the new certificate");

    // A broken file on SIGHUP: logged, and the certificate in use stays.
    std::fs::write(&live_cert, "not a certificate").unwrap();
    hup(server.pid());
    let mut logged = false;
    for _ in 0..100 {
        if std::fs::read_to_string(&server.log)
            .unwrap()
            .contains("TLS certificate not reloaded")
        {
            logged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(logged, "a failed reload was not logged");
    assert_eq!(served(), leaf_der(&two_cert));
    server.client.list_keys().send().await.unwrap();
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_off_loopback_is_refused_unless_allowed() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let out = std::process::Command::new(BIN)
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(&data)
        .env_remove("KEYLEDGER_ALLOW_PLAIN_HTTP")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("refusing to serve plain HTTP on 0.0.0.0:"),
        "{stderr}"
    );
    assert!(stderr.contains("not a loopback address"), "{stderr}");
    assert!(
        stderr.contains("Decrypt and GenerateDataKey would cross the network in clear"),
        "{stderr}"
    );
    assert!(!data.exists(), "a refused start changed the disk");

    let server = Server::start_on(&data, "0.0.0.0:0", &["--allow-plain-http"]).await;
    assert!(server.endpoint.starts_with("http://0.0.0.0:"));
    server.client.create_key().send().await.unwrap();
    server.stop();
}

/// The real SQLite store, whose append panics while `panic` is set (a bug in the writer's
/// path): the writer task dies as it would in production.
struct PanickingStore<S> {
    inner: S,
    panic: Arc<AtomicBool>,
}

impl<S: LedgerStore> LedgerStore for PanickingStore<S> {
    async fn head(&mut self) -> Result<Head, StoreError> {
        self.inner.head().await
    }
    async fn append(&mut self, batches: &[&AppendBatch]) -> Result<Vec<AppendOutcome>, StoreError> {
        if self.panic.load(Ordering::SeqCst) {
            panic!("injected: the ledger writer hits a bug");
        }
        self.inner.append(batches).await
    }
    async fn write_checkpoint(
        &mut self,
        signer: &dyn CheckpointSigner,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.inner.write_checkpoint(signer).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_once_the_ledger_writer_has_stopped_while_healthz_stays_200() {
    let root = tempfile::tempdir().unwrap();
    let panic = Arc::new(AtomicBool::new(false));
    let settings = Settings::local(
        root.path().join("data"),
        Region::parse("us-east-1").unwrap(),
    );
    let flag = panic.clone();
    let opened = open_with(
        &settings,
        move |store| PanickingStore {
            inner: store,
            panic: flag,
        },
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let shared = Arc::new(keyledger::http::Shared::default());
    shared.set_ready(opened.service);
    let server = keyledger::http::serve(listener, shared, 1).unwrap();
    let handle = server.handle();
    tokio::spawn(server);
    let creds: common::AdminCredentials =
        serde_json::from_slice(&std::fs::read(&opened.credentials_path).unwrap()).unwrap();
    let kms = common::client(
        &endpoint,
        &creds.region,
        &creds.access_key_id,
        &creds.secret_access_key,
    );
    let http = reqwest::Client::new();
    let get = |route: &'static str| {
        let http = http.clone();
        let url = format!("{endpoint}{route}");
        async move {
            let r = http.get(url).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    kms.create_key().send().await.unwrap();
    assert_eq!(get("/readyz").await.0, 200);

    panic.store(true, Ordering::SeqCst);
    assert_eq!(
        common::error_code(kms.create_key().send().await),
        "KMSInternalException"
    );
    // The failed call is answered as the writer task unwinds; readyz follows within moments.
    let mut readyz = get("/readyz").await;
    for _ in 0..100 {
        if readyz.0 == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        readyz = get("/readyz").await;
    }
    let (status, body) = readyz;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "writer stopped");
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("ledger writer has stopped"),
        "{body}"
    );
    // Alive (the process answers), not ready: a supervisor restarts it, a balancer skips it.
    assert_eq!(get("/healthz").await.0, 200);
    handle.stop(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_requests_in_flight_then_checkpoints_and_exits_0() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let server = Server::start(&data).await;
    let key_id = server
        .client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let answered = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..8 {
        let kms = server.client.clone();
        let key_id = key_id.clone();
        let answered = answered.clone();
        let stop = stop.clone();
        load.push(tokio::spawn(async move {
            use aws_sdk_kms::operation::RequestId as _;
            let mut service_errors = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                match kms
                    .encrypt()
                    .key_id(&key_id)
                    .plaintext(Blob::new(b"shutdown".to_vec()))
                    .send()
                    .await
                {
                    Ok(out) => answered
                        .lock()
                        .unwrap()
                        .push(out.request_id().unwrap().to_owned()),
                    // Refused or closed connections once the server stops accepting.
                    Err(e) => match e.as_service_error() {
                        Some(s) => service_errors.push(format!("{s:?}")),
                        None => break,
                    },
                }
            }
            service_errors
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let before = answered.lock().unwrap().len();
    assert!(before > 0, "no request answered before the signal");
    let last_before = answered.lock().unwrap().last().cloned().unwrap();
    let status = tokio::task::spawn_blocking(move || server.signal_and_wait(libc::SIGTERM))
        .await
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    for task in load {
        let service_errors = task.await.unwrap();
        // The writer outlives the HTTP server: no request in flight failed for want of it.
        assert!(service_errors.is_empty(), "{service_errors:?}");
    }
    assert_eq!(status.code(), Some(0), "{status:?}");

    // Every answered call is in the ledger, the last one before the signal among them.
    let recorded: std::collections::HashSet<String> = stored_events(&data)
        .await
        .into_iter()
        .filter_map(|e| e["request_id"].as_str().map(str::to_owned))
        .collect();
    let answered = answered.lock().unwrap().clone();
    assert!(recorded.contains(&last_before));
    for id in &answered {
        assert!(recorded.contains(id), "answered but not recorded: {id}");
    }
    // The final checkpoint covers the whole log: `verify` passes with the server gone.
    let (ok, out) = command(&["verify"], &data);
    assert!(ok, "{out}");
}

#[test]
fn a_half_tls_pair_or_a_key_of_another_certificate_is_refused_at_start() {
    let root = tempfile::tempdir().unwrap();
    let pki = root.path().join("pki");
    let (one_cert, _) = issue_certificate(&pki, "one");
    let (_, two_key) = issue_certificate(&pki, "two");
    let data = root.path().join("data");
    let serve = |args: &[&str]| {
        let out = std::process::Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let half = serve(&["--tls-cert", path(&one_cert)]);
    assert!(half.contains("TLS needs both a certificate"), "{half}");
    let mismatched = serve(&["--tls-cert", path(&one_cert), "--tls-key", path(&two_key)]);
    assert!(
        mismatched.contains("is not the key of certificate"),
        "{mismatched}"
    );
    let not_pem = serve(&["--tls-cert", path(&two_key), "--tls-key", path(&two_key)]);
    assert!(not_pem.contains("TLS certificate"), "{not_pem}");
    // The right key, but readable by anyone on the machine.
    let (three_cert, three_key) = issue_certificate(&pki, "three");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&three_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let exposed = serve(&[
        "--tls-cert",
        path(&three_cert),
        "--tls-key",
        path(&three_key),
    ]);
    assert!(exposed.contains("mode 0644 lets others read"), "{exposed}");
    assert!(!data.exists(), "a refused start changed the disk");
    // Group-readable (0640, Debian's ssl-cert convention) is served.
    std::fs::set_permissions(&three_key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let mut child = std::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .args([
            "--tls-cert",
            path(&three_cert),
            "--tls-key",
            path(&three_key),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let listening = std::io::BufRead::lines(&mut out)
        .map_while(Result::ok)
        .any(|line| line.starts_with("listening on https://"));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(listening, "a 0640 key was refused");
}

/// A signed Encrypt as raw HTTP/1.1: the head, and the body to send after it.
fn raw_encrypt(server: &Server, key_id: &str) -> (String, String) {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4;
    let identity = aws_credential_types::Credentials::new(
        &server.credentials.access_key_id,
        &server.credentials.secret_access_key,
        None,
        None,
        "keyledger-test",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&server.credentials.region)
        .name("kms")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let host = server.endpoint.trim_start_matches("http://").to_owned();
    let body = serde_json::json!({"KeyId": key_id, "Plaintext": "aW4gZmxpZ2h0"}).to_string();
    let headers = [
        ("host", host.as_str()),
        ("x-amz-target", "TrentService.Encrypt"),
        ("content-type", "application/x-amz-json-1.1"),
    ];
    let request = SignableRequest::new(
        "POST",
        format!("{}/", server.endpoint),
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    let mut head = format!("POST / HTTP/1.1\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers.iter().copied().chain(instructions.headers()) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("connection: close\r\n\r\n");
    (head, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_waits_for_a_request_still_arriving_and_answers_it() {
    use std::io::{Read, Write};
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let server = Server::start(&data).await;
    let key_id = server
        .client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let (head, body) = raw_encrypt(&server, &key_id);
    let address = server.endpoint.trim_start_matches("http://").to_owned();
    let mut socket = std::net::TcpStream::connect(&address).unwrap();
    socket.write_all(head.as_bytes()).unwrap();
    socket.write_all(&body.as_bytes()[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    // SIGTERM while the request's body is still arriving.
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    assert_eq!(
        unsafe { libc::kill(server.pid() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let mut refused = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(&address).is_err() {
            refused = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        refused,
        "the server still accepts connections after SIGTERM"
    );
    socket.write_all(&body.as_bytes()[10..]).unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("CiphertextBlob"), "{answer}");
    let request_id = answer
        .lines()
        .find_map(|l| l.strip_prefix("x-amzn-requestid: "))
        .unwrap_or_else(|| panic!("no request id: {answer}"))
        .trim()
        .to_owned();

    let status = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    let recorded = stored_events(&data).await;
    assert!(
        recorded
            .iter()
            .any(|e| e["request_id"] == request_id.as_str()),
        "the call answered during shutdown is not in the ledger"
    );
    let (ok, out) = command(&["verify"], &data);
    assert!(ok, "{out}");
}
