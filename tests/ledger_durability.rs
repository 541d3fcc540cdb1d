//! The ledger's invariants, black-box: durability across clean and unclean
//! restarts, tamper evidence, no plaintext at rest, concurrent appends.

mod common;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeyState};
use base64::Engine as _;
use common::{stored_events, trail, verify, Server};
use std::path::Path;

async fn encrypt(server: &Server, key_id: &str, plaintext: &[u8]) -> Blob {
    server
        .client
        .encrypt()
        .key_id(key_id)
        .plaintext(Blob::new(plaintext.to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap()
}

async fn decrypt(server: &Server, blob: &Blob) -> Vec<u8> {
    server
        .client
        .decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await
        .unwrap()
        .plaintext
        .unwrap()
        .into_inner()
}

/// Keys, states and ciphertexts made before a restart are all there after it.
async fn survives_restart(kill: bool) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let server = Server::start(&dir).await;
    let credentials = server.credentials.clone();
    let enabled = server
        .client
        .create_key()
        .description("stays")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let disabled = server
        .client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let blob = encrypt(&server, &enabled, b"before restart").await;
    let blob2 = encrypt(&server, &disabled, b"also before").await;
    server
        .client
        .disable_key()
        .key_id(&disabled)
        .send()
        .await
        .unwrap();
    let events_before = stored_events(&dir).await.len();
    let head_before = verify(&dir).1;
    if kill {
        server.kill();
    } else {
        server.stop();
    }

    let server = Server::start(&dir).await;
    assert_eq!(
        server.credentials.access_key_id, credentials.access_key_id,
        "the bootstrap is reused"
    );
    assert_eq!(server.credentials.account_id, credentials.account_id);
    assert_eq!(
        stored_events(&dir).await.len(),
        events_before,
        "no event lost, none added by a restart"
    );
    assert_eq!(verify(&dir).1, head_before);
    let meta = server
        .client
        .describe_key()
        .key_id(&enabled)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.description(), Some("stays"));
    assert_eq!(meta.key_state(), Some(&KeyState::Enabled));
    let meta = server
        .client
        .describe_key()
        .key_id(&disabled)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state(), Some(&KeyState::Disabled));
    assert_eq!(decrypt(&server, &blob).await, b"before restart");
    server
        .client
        .enable_key()
        .key_id(&disabled)
        .send()
        .await
        .unwrap();
    assert_eq!(decrypt(&server, &blob2).await, b"also before");
    assert_eq!(
        server.client.list_keys().send().await.unwrap().keys().len(),
        2
    );
    let (ok, out) = verify(&dir);
    assert!(ok, "{out}");
}

#[tokio::test]
async fn state_survives_a_clean_restart() {
    survives_restart(false).await;
}

#[tokio::test]
async fn state_survives_a_kill() {
    survives_restart(true).await;
}

#[tokio::test]
async fn every_answered_call_is_durable_when_the_process_is_killed() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let server = Server::start(&dir).await;
    let key = server
        .client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let mut answered = 0;
    for i in 0..40u32 {
        encrypt(&server, &key, &i.to_be_bytes()).await;
        answered += 1;
    }
    server.kill();
    let records = trail(&dir).await;
    let encrypts = records
        .iter()
        .filter(|r| r["eventName"] == "Encrypt")
        .count();
    assert_eq!(encrypts, answered);
}

fn flip_byte_in_file(path: &Path, needle: &[u8]) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in file");
    bytes[at + needle.len() - 1] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn verify_detects_an_edited_event() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let server = Server::start(&dir).await;
    let key = server
        .client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    for _ in 0..5 {
        encrypt(&server, &key, b"x").await;
    }
    server.stop();
    let (ok, out) = verify(&dir);
    assert!(ok, "{out}");
    let events = stored_events(&dir).await.len();
    assert!(
        out.starts_with(&format!("{events} events verified, head ")),
        "{out}"
    );

    // Fold the WAL into the main file so the event rows sit in ledger.db itself.
    {
        use sqlx::{Connection, SqliteConnection};
        let mut conn =
            SqliteConnection::connect(&format!("sqlite://{}", dir.join("ledger.db").display()))
                .await
                .unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    // Change one byte of the first Encrypt record in the raw file: "Encrypt" → "Encrypu".
    flip_byte_in_file(&dir.join("ledger.db"), br#""eventName":"Encrypt""#);
    let (ok, out) = verify(&dir);
    assert!(!ok, "an edited event must fail verification: {out}");
    assert!(out.contains("position"), "names the position: {out}");
}

#[tokio::test]
async fn verify_detects_a_deleted_or_rewritten_row() {
    use sqlx::{Connection, SqliteConnection};
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let server = Server::start(&dir).await;
    let key = server
        .client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    for _ in 0..5 {
        encrypt(&server, &key, b"x").await;
    }
    server.stop();
    let url = format!("sqlite://{}", dir.join("ledger.db").display());

    let copy = root.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(&format!(
        "VACUUM INTO '{}'",
        copy.join("ledger.db").display()
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("DELETE FROM events WHERE position = 4")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let (ok, out) = verify(&dir);
    assert!(!ok);
    assert!(out.contains("position 4"), "{out}");

    // A rewritten event whose own hash was recomputed still breaks the next link.
    let mut conn =
        SqliteConnection::connect(&format!("sqlite://{}", copy.join("ledger.db").display()))
            .await
            .unwrap();
    // The first event that names the caller's address (the first recorded call).
    let (position,): (i64,) = sqlx::query_as(
        "SELECT MIN(position) FROM events WHERE CAST(data AS TEXT) LIKE '%127.0.0.1%'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let (data, prev): (Vec<u8>, Vec<u8>) = sqlx::query_as(
        "SELECT e.data, p.hash FROM events e JOIN events p ON p.position = e.position - 1 WHERE e.position = ?",
    )
    .bind(position)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let forged = String::from_utf8(data)
        .unwrap()
        // Still valid JSON, other bytes: any event can be rewritten so.
        .replacen('{', "{ ", 1)
        .into_bytes();
    let hash = replay::chain_hash(&prev.try_into().unwrap(), position as u64, &forged);
    sqlx::query("UPDATE events SET data = ?, hash = ? WHERE position = ?")
        .bind(&forged)
        .bind(&hash[..])
        .bind(position)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let (ok, out) = verify(&copy);
    assert!(!ok);
    // The trail tree's leaf of that position no longer matches: the forged event is named.
    assert!(out.contains(&format!("position {position}")), "{out}");
}

fn encodings(secret: &[u8]) -> Vec<Vec<u8>> {
    vec![
        secret.to_vec(),
        hex::encode(secret).into_bytes(),
        hex::encode_upper(secret).into_bytes(),
        base64::engine::general_purpose::STANDARD
            .encode(secret)
            .into_bytes(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(secret)
            .into_bytes(),
    ]
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn no_plaintext_or_data_key_at_rest_or_in_logs() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let server = Server::start(&dir).await;
    let kms = &server.client;
    let key = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let plaintext = b"KNOWN-PLAINTEXT-7f3a9c-never-at-rest".to_vec();
    let blob = encrypt(&server, &key, &plaintext).await;
    assert_eq!(decrypt(&server, &blob).await, plaintext);
    let mut secrets = vec![plaintext];
    for _ in 0..3 {
        let dk = kms
            .generate_data_key()
            .key_id(&key)
            .key_spec(DataKeySpec::Aes256)
            .send()
            .await
            .unwrap();
        secrets.push(dk.plaintext.unwrap().into_inner());
    }
    secrets.push(
        kms.generate_random()
            .number_of_bytes(32)
            .send()
            .await
            .unwrap()
            .plaintext
            .unwrap()
            .into_inner(),
    );
    // Asymmetric secrets too: a data key pair's private key and an ECDH shared secret.
    use aws_sdk_kms::types::{DataKeyPairSpec, KeyAgreementAlgorithmSpec, KeySpec, KeyUsageType};
    let pair = kms
        .generate_data_key_pair()
        .key_id(&key)
        .key_pair_spec(DataKeyPairSpec::EccNistP256)
        .send()
        .await
        .unwrap();
    secrets.push(pair.private_key_plaintext.unwrap().into_inner());
    let agreeing = kms
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::KeyAgreement)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let shared = kms
        .derive_shared_secret()
        .key_id(&agreeing)
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(pair.public_key.unwrap())
        .send()
        .await
        .unwrap();
    secrets.push(shared.shared_secret.unwrap().into_inner());
    // Imported key material, and the wrapped blob it came in (decision 0022).
    use aws_sdk_kms::types::OriginType;
    let external = kms
        .create_key()
        .origin(OriginType::External)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let imported = b"IMPORTED-MATERIAL-32-bytes-7f3a9".to_vec();
    let (_, wrapped) = common::import_material(kms, &external, &imported).await;
    let under_imported = encrypt(&server, &external, b"imported").await;
    assert_eq!(decrypt(&server, &under_imported).await, b"imported");
    secrets.push(imported);
    secrets.push(wrapped);
    let log = server.log.clone();
    server.stop();

    let mut files = files_under(&dir);
    files.push(log);
    assert!(files.iter().any(|f| f.ends_with("ledger.db")));
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for secret in &secrets {
            for encoded in encodings(secret) {
                assert!(
                    !bytes
                        .windows(encoded.len())
                        .any(|w| w == encoded.as_slice()),
                    "{} holds a secret",
                    file.display()
                );
            }
        }
    }
}

#[tokio::test]
async fn hundreds_of_concurrent_encrypts_are_all_recorded_in_an_intact_chain() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let server = Server::start(&dir).await;
    let key = server
        .client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let mut tasks = Vec::new();
    for i in 0..400u32 {
        let client = server.client.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            client
                .encrypt()
                .key_id(key)
                .plaintext(Blob::new(i.to_be_bytes().to_vec()))
                .send()
                .await
                .map(|o| o.ciphertext_blob.unwrap())
        }));
    }
    let mut blobs = Vec::new();
    for t in tasks {
        blobs.push(t.await.unwrap().expect("every concurrent Encrypt succeeds"));
    }
    assert_eq!(decrypt(&server, &blobs[399]).await, 399u32.to_be_bytes());
    let records = trail(&dir).await;
    assert_eq!(
        records
            .iter()
            .filter(|r| r["eventName"] == "Encrypt")
            .count(),
        400
    );
    let mut ids: Vec<&str> = records
        .iter()
        .map(|r| r["eventID"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), records.len(), "event ids are unique");
    let (ok, out) = verify(&dir);
    assert!(ok, "{out}");
}

#[tokio::test]
async fn the_root_key_can_come_from_the_environment_and_must_match() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let hex_key = "5f".repeat(32);
    let env = [("KEYLEDGER_ROOT_KEY", hex_key.as_str())];
    let server = Server::start_env(&dir, &[], &env).await;
    let key = server
        .client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let blob = encrypt(&server, &key, b"env root").await;
    server.stop();
    assert!(
        !dir.join("root.key").exists(),
        "no key file when the root key comes from the environment"
    );

    let server = Server::start_env(&dir, &[], &env).await;
    assert_eq!(decrypt(&server, &blob).await, b"env root");
    server.stop();

    // Another root key cannot open this ledger's secrets: the service refuses to start.
    let log = root.path().join("wrong-key.log");
    let mut child = std::process::Command::new(common::BIN)
        .args(["serve", "--data-dir"])
        .arg(&dir)
        .args(["--listen", "127.0.0.1:0"])
        .env("KEYLEDGER_ROOT_KEY", "a0".repeat(32))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the service started with the wrong root key");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(!status.success());
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(stderr.contains("root key"), "{stderr}");
}

#[tokio::test]
async fn settings_come_from_flags_environment_and_config_file() {
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("keyledger.toml");
    std::fs::write(
        &config,
        "region = \"eu-central-1\"\naccount_id = \"111122223333\"\n",
    )
    .unwrap();
    let config_arg = config.to_str().unwrap();

    // The config file alone.
    let server = Server::start_with(&root.path().join("a"), &["--config", config_arg]).await;
    assert_eq!(server.credentials.region, "eu-central-1");
    assert_eq!(server.credentials.account_id, "111122223333");
    let arn = server
        .client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    assert!(
        arn.starts_with("arn:aws:kms:eu-central-1:111122223333:key/"),
        "{arn}"
    );
    server.stop();

    // The environment beats the file; a flag beats the environment.
    let server = Server::start_env(
        &root.path().join("b"),
        &["--config", config_arg, "--account-id", "444455556666"],
        &[
            ("KEYLEDGER_REGION", "ap-south-1"),
            ("KEYLEDGER_ACCOUNT_ID", "999999999999"),
        ],
    )
    .await;
    assert_eq!(server.credentials.region, "ap-south-1");
    assert_eq!(server.credentials.account_id, "444455556666");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(root.path().join("b/admin-credentials.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the credentials file is private");
        let mode = std::fs::metadata(root.path().join("b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "the data dir is private");
    }
}
