//! The trail's evidence, end to end against the real binary: receipts, signed checkpoints,
//! inclusion and consistency proofs checked offline with only the verifier key, the C2SP
//! tlog-tiles read API, `keyledger verify [--checkpoint]`, and a server that refuses a
//! broken ledger.

mod common;

use common::{command, ledger_connection, signed_get_response, verify, Server};
use replay::trail::{ConsistencyProof, InclusionProof, Query};
use sqlx::Row;
use std::path::Path;
use std::time::Duration;

async fn text(server: &Server, path: &str) -> (u16, String) {
    let response = signed_get_response(&server.endpoint, &server.credentials, path).await;
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

async fn vkey(server: &Server) -> String {
    let (status, vkey) = text(server, "/v1/trail/vkey").await;
    assert_eq!(status, 200, "{vkey}");
    vkey.trim().to_owned()
}

/// The newest checkpoint once it covers at least `size` events (checkpoints come within a second).
async fn checkpoint_covering(server: &Server, size: u64, vkey: &str) -> String {
    for _ in 0..60 {
        let (status, note) = text(server, "/v1/trail/checkpoint").await;
        if status == 200 {
            let checked = replay::trail::verify_checkpoint(note.as_bytes(), vkey).unwrap();
            if checked.size >= size {
                return note;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no checkpoint covering {size} events");
}

/// `n` Encrypt calls through the SDK.
async fn encrypt_times(server: &Server, key_id: &str, n: usize) {
    for _ in 0..n {
        server
            .client
            .encrypt()
            .key_id(key_id)
            .plaintext(aws_sdk_kms::primitives::Blob::new(b"x".to_vec()))
            .send()
            .await
            .unwrap();
    }
}

/// An Encrypt call through the SDK, and the receipt headers of a raw call.
async fn encrypt_with_receipt(server: &Server, key_id: &str) -> (String, u64) {
    let response = common::signed_kms_call(
        &server.endpoint,
        &server.credentials,
        "Encrypt",
        &serde_json::json!({ "KeyId": key_id, "Plaintext": "aGVsbG8=" }),
    )
    .await;
    assert_eq!(response.status(), 200);
    let header = |name| {
        response
            .headers()
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    (
        header("x-keyledger-event-id"),
        header("x-keyledger-position").parse().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_proves_its_own_inclusion_and_checkpoints_prove_consistency() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data).await;
    let key = server.client.create_key().send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    let vkey = vkey(&server).await;
    assert!(vkey.starts_with(&format!("keyledger/{}+", server.credentials.account_id)));

    let (event_id, position) = encrypt_with_receipt(&server, &key_id).await;
    let old = checkpoint_covering(&server, position, &vkey).await;
    let (status, body) = text(&server, &format!("/v1/trail/events/{event_id}/inclusion")).await;
    assert_eq!(status, 200, "{body}");
    let proof: InclusionProof = serde_json::from_str(&body).unwrap();
    assert_eq!((proof.position, proof.leaf_index), (position, position - 1));
    let (checkpoint, leaf) = proof.verify(&vkey).expect("the proof verifies offline");
    let event: serde_json::Value = serde_json::from_slice(&leaf).unwrap();
    assert_eq!(event["event_name"], "Encrypt");
    assert_eq!(event["body"]["eventID"], event_id.as_str());
    assert!(checkpoint.size >= position);

    // Tampering with any part of the proof fails it.
    let mut forged = proof.clone();
    forged.leaf_index = (forged.leaf_index + 1) % forged.tree_size;
    forged.position = forged.leaf_index + 1;
    assert!(forged.verify(&vkey).is_err());
    let mut forged = proof.clone();
    forged.leaf = base64_of(&leaf.iter().map(|b| b ^ 1).collect::<Vec<u8>>());
    assert!(forged.verify(&vkey).is_err());

    // More calls, a later checkpoint, and the proof that it extends the old one.
    encrypt_times(&server, &key_id, 300).await;
    let old_size = replay::trail::verify_checkpoint(old.as_bytes(), &vkey)
        .unwrap()
        .size;
    let new = checkpoint_covering(&server, old_size + 300, &vkey).await;
    let new_size = replay::trail::verify_checkpoint(new.as_bytes(), &vkey)
        .unwrap()
        .size;
    let (status, body) = text(
        &server,
        &format!("/v1/trail/consistency?from={old_size}&to={new_size}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let consistency: ConsistencyProof = serde_json::from_str(&body).unwrap();
    consistency
        .verify(old.as_bytes(), new.as_bytes(), &vkey)
        .expect("the new checkpoint extends the old");
    // The inclusion proof against the newer tree size verifies too.
    let (status, body) = text(
        &server,
        &format!("/v1/trail/events/{event_id}/inclusion?tree_size={new_size}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let later: InclusionProof = serde_json::from_str(&body).unwrap();
    assert_eq!(later.tree_size, new_size);
    later.verify(&vkey).unwrap();

    // Bad input: AWS-shaped errors, nothing served.
    let (status, body) = text(&server, "/v1/trail/consistency?from=9&to=2").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("ValidationException"));
    let (status, body) = text(&server, "/v1/trail/consistency?from=1&to=abc").await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = text(&server, "/v1/trail/events/nope/inclusion").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("NotFoundException"));
    let (status, _) = text(
        &server,
        &format!(
            "/v1/trail/events/{event_id}/inclusion?tree_size={}",
            new_size + 1_000_000
        ),
    )
    .await;
    assert_eq!(status, 404);
    // Unsigned: refused.
    let unsigned = reqwest::get(format!("{}/v1/trail/checkpoint", server.endpoint))
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);

    // The checkpoint the auditor kept, offline, after a clean shutdown.
    std::fs::write(dir.path().join("saved.checkpoint"), &new).unwrap();
    server.stop();
    let (ok, out) = verify(&data);
    assert!(ok, "{out}");
    let saved = dir.path().join("saved.checkpoint");
    let (ok, out) = command(
        &[
            "verify",
            "--checkpoint",
            saved.to_str().unwrap(),
            "--vkey",
            &vkey,
        ],
        &data,
    );
    assert!(ok, "{out}");
    assert!(out.contains("extends the saved checkpoint"), "{out}");
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tlog_tiles_serve_the_tree_and_public_mode_serves_hashes_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(&dir.path().join("data"), &["--public-tlog"]).await;
    let key = server.client.create_key().send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    encrypt_times(&server, &key_id, 260).await;
    let vkey = vkey(&server).await;
    checkpoint_covering(&server, 262, &vkey).await;
    // Unsigned, like a witness: the checkpoint and hash tiles.
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let url = format!("{}/v1/trail/tlog/{path}", server.endpoint);
        async move { http.get(url).send().await.unwrap() }
    };
    let note = get("checkpoint".into()).await;
    // tlog-tiles: a checkpoint's headers SHOULD prevent caching beyond a few seconds.
    assert_eq!(
        note.headers()
            .get("cache-control")
            .unwrap()
            .to_str()
            .unwrap(),
        "no-cache"
    );
    let note = note.text().await.unwrap();
    let checkpoint = replay::trail::verify_checkpoint(note.as_bytes(), &vkey).unwrap();
    let size = checkpoint.size;
    assert!(size >= 262);
    let full = get("tile/0/000".into()).await;
    assert_eq!(full.status(), 200);
    // A tile's path names bytes that never change: cached for long, by anyone when public.
    let caching = |r: &reqwest::Response| {
        r.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        caching(&full).as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    let full = full.bytes().await.unwrap();
    assert_eq!(full.len(), 256 * 32);
    let partial_width = size - 256;
    let partial = get(format!("tile/0/001.p/{partial_width}")).await;
    assert_eq!(partial.status(), 200);
    let partial = partial.bytes().await.unwrap();
    assert_eq!(partial.len() as u64, partial_width * 32);
    // The root computed from the tiles alone is the signed root.
    let mut fetched = replay::trail::Fetched::default();
    for (i, hash) in full.chunks(32).chain(partial.chunks(32)).enumerate() {
        fetched.0.insert((0, i as u64), hash.try_into().unwrap());
    }
    let level8 = get("tile/1/000.p/1".into()).await;
    assert_eq!(level8.status(), 200);
    let level8 = level8.bytes().await.unwrap();
    fetched.0.insert((8, 0), level8[..32].try_into().unwrap());
    let root = Query::Root { size }.answer(&fetched).unwrap();
    assert_eq!(root, vec![checkpoint.root]);
    // Beyond the tree, and malformed: not found.
    assert_eq!(
        get(format!("tile/0/001.p/{}", partial_width + 1))
            .await
            .status(),
        404
    );
    assert_eq!(get("tile/0/002".into()).await.status(), 404);
    // Entries always need SigV4.
    assert_eq!(get("tile/entries/000".into()).await.status(), 403);
    let entries = signed_get_response(
        &server.endpoint,
        &server.credentials,
        "/v1/trail/tlog/tile/entries/000",
    )
    .await;
    assert_eq!(entries.status(), 200);
    assert_eq!(
        caching(&entries).as_deref(),
        Some("private, max-age=31536000, immutable"),
        "behind SigV4, no shared cache may keep it"
    );
    let entries = entries.bytes().await.unwrap();
    // Each entry: a big-endian uint16 length, then the event; its leaf hash is tile 0's.
    let mut rest = &entries[..];
    let mut n = 0;
    while !rest.is_empty() {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        let leaf = &rest[2..2 + len];
        assert_eq!(
            &replay::trail::leaf_hash(leaf)[..],
            &full[n * 32..(n + 1) * 32]
        );
        rest = &rest[2 + len..];
        n += 1;
    }
    assert_eq!(n, 256);
}

/// Events of the ledger file, as stored.
async fn positions(data: &Path) -> i64 {
    let mut conn = ledger_connection(data, true).await;
    sqlx::query("SELECT MAX(position) AS p FROM events")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get("p")
}

/// `keyledger serve` on a broken ledger: it must exit with an error, never say ready.
fn serve_refuses(data: &Path) -> String {
    let out = std::process::Command::new(common::BIN)
        .args(["serve", "--data-dir"])
        .arg(data)
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("KEYLEDGER_ROOT_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "serve started on a broken ledger");
    assert!(!stdout.lines().any(|l| l == "ready"), "{stdout}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn ledger_with_history(data: &Path) -> (String, String) {
    let server = Server::start(data).await;
    let key = server.client.create_key().send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    server
        .client
        .put_key_policy()
        .key_id(&key_id)
        .policy_name("default")
        .policy(common::root_policy(
            &server.credentials.account_id,
            "edited",
        ))
        .send()
        .await
        .unwrap();
    encrypt_times(&server, &key_id, 20).await;
    let vkey = vkey(&server).await;
    let head = positions(data).await as u64;
    let note = checkpoint_covering(&server, head, &vkey).await;
    server.stop();
    (vkey, note)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_tail_is_caught_by_verify_and_the_server_will_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ledger_with_history(&data).await;
    assert!(verify(&data).0);
    let head = positions(&data).await;
    let mut conn = ledger_connection(&data, false).await;
    sqlx::query("DELETE FROM events WHERE position > ?")
        .bind(head - 10)
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);
    let (ok, out) = verify(&data);
    assert!(!ok, "a cut-off tail verified: {out}");
    let err = serve_refuses(&data);
    assert!(err.contains("broken ledger"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_after_the_last_checkpoint_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ledger_with_history(&data).await;
    // Append an unsigned tail through the normal path: kill -9 leaves it uncheckpointed.
    let server = Server::start(&data).await;
    let _ = server.client.list_keys().send().await.unwrap();
    server.kill();
    let head = positions(&data).await;
    let mut conn = ledger_connection(&data, false).await;
    let newest: i64 = sqlx::query("SELECT MAX(tree_size) AS s FROM trail_checkpoints")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get("s");
    assert!(newest < head, "the tail is not checkpointed");
    // Edit the newest event (in the tail) without fixing anything.
    sqlx::query("UPDATE events SET data = CAST(replace(CAST(data AS TEXT), 'ListKeys', 'ListKeyz') AS BLOB) WHERE position = ?")
        .bind(head)
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);
    let err = serve_refuses(&data);
    assert!(err.contains("broken ledger"), "{err}");
    assert!(err.contains(&format!("position {head}")), "{err}");
}

/// The strongest attacker: holds the root key, removes the PutKeyPolicy call and rewrites
/// everything after it — chain, tree, and checkpoints re-signed with the unsealed note key.
/// The ledger is then self-consistent (`verify` alone passes), but not with the checkpoint
/// an auditor kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_rewritten_with_the_root_key_fails_against_a_saved_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (vkey, saved) = ledger_with_history(&data).await;
    let saved_path = dir.path().join("saved.checkpoint");
    std::fs::write(&saved_path, &saved).unwrap();
    let check = |data: &Path| {
        command(
            &[
                "verify",
                "--checkpoint",
                saved_path.to_str().unwrap(),
                "--vkey",
                &vkey,
            ],
            data,
        )
    };
    assert!(check(&data).0);

    rewrite_without(&data, "PutKeyPolicy").await;
    let (ok, out) = verify(&data);
    assert!(
        ok,
        "the forgery is self-consistent, as intended by the test: {out}"
    );
    let (ok, out) = check(&data);
    assert!(
        !ok,
        "a rewritten history passed against the saved checkpoint: {out}"
    );
    assert!(
        out.contains("saved checkpoint") || out.contains("extend"),
        "{out}"
    );
}

/// Remove every event named `name` and rebuild the ledger's evidence around the gap, as
/// someone with the root key (and so the note key) could.
async fn rewrite_without(data: &Path, name: &str) {
    use keyledger::crypto::root_key::{RootKey, LABEL_TRAIL_SIGNER_KEY};
    let mut conn = ledger_connection(data, false).await;
    let rows = sqlx::query("SELECT position, data FROM events ORDER BY position")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let kept: Vec<Vec<u8>> = rows
        .iter()
        .map(|r| r.get::<Vec<u8>, _>("data"))
        .filter(|d| serde_json::from_slice::<serde_json::Value>(d).unwrap()["event_name"] != name)
        .collect();
    assert!(kept.len() < rows.len(), "there was a {name} to remove");
    // The note key, unsealed with the root key.
    let trail_key = kept
        .iter()
        .map(|d| serde_json::from_slice::<serde_json::Value>(d).unwrap())
        .find(|e| e["event_type"] == "TrailKeyCreated")
        .unwrap();
    let body = &trail_key["body"];
    let (root, _) = RootKey::load_or_create_file(&data.join("root.key")).unwrap();
    use base64::Engine as _;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(body["sealed_signer_key"].as_str().unwrap())
        .unwrap();
    let skey = root
        .unwrap(
            LABEL_TRAIL_SIGNER_KEY,
            body["verifier_key"].as_str().unwrap().as_bytes(),
            &sealed,
        )
        .unwrap();
    let signer = replay::trail::NoteSigner::new(std::str::from_utf8(&skey).unwrap()).unwrap();
    let origin = body["origin"].as_str().unwrap();

    let mut tx = sqlx::Connection::begin(&mut conn).await.unwrap();
    for table in ["events", "trail_hashes", "trail_checkpoints"] {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let mut prev = replay::GENESIS_HASH;
    let mut frontier = replay::trail::Frontier::default();
    for (i, data) in kept.iter().enumerate() {
        let position = i as u64 + 1;
        let hash = replay::chain_hash(&prev, position, data);
        prev = hash;
        let columns = replay::columns::derive(data).unwrap();
        sqlx::query(
            "INSERT INTO events (position, stream, stream_version, event_name, data, hash, event_id, time_ns, keys, error_code, account, principal) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        )
        .bind(position as i64)
        .bind(&columns.stream)
        .bind(columns.stream_version)
        .bind(&columns.event_name)
        .bind(data)
        .bind(&hash[..])
        .bind(&columns.event_id)
        .bind(columns.time_ns)
        .bind(&columns.keys)
        .bind(&columns.error_code)
        .bind(&columns.account)
        .bind(&columns.principal)
        .execute(&mut *tx)
        .await
        .unwrap();
        let mut stored = Vec::new();
        frontier.push(replay::trail::leaf_hash(data), &mut stored);
        for s in stored {
            sqlx::query("INSERT INTO trail_hashes (level, idx, hash) VALUES (?,?,?)")
                .bind(s.level as i64)
                .bind(s.index as i64)
                .bind(&s.hash[..])
                .execute(&mut *tx)
                .await
                .unwrap();
        }
    }
    let size = frontier.size();
    let note = signer
        .sign_checkpoint(origin, size, frontier.root())
        .unwrap();
    sqlx::query(
        "INSERT INTO trail_checkpoints (tree_size, root_hash, note, created_ns) VALUES (?,?,?,0)",
    )
    .bind(size as i64)
    .bind(&frontier.root()[..])
    .bind(note)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// Concurrent Encrypt load, `kill -9` mid-flight, restart — several rounds. Every call that
/// got a 200 is in the trail with an inclusion proof, and `verify` passes after each restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answered_call_survives_kill_9_with_its_inclusion_proof() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut answered: Vec<String> = Vec::new();
    let mut key_id = String::new();
    for round in 0..3 {
        let server = Server::start(&data).await;
        // The start-up checkpoint covers the tail the last kill left: verify passes now.
        let (ok, out) = verify(&data);
        assert!(ok, "round {round}: {out}");
        if round == 0 {
            key_id = server
                .client
                .create_key()
                .send()
                .await
                .unwrap()
                .key_metadata()
                .unwrap()
                .key_id()
                .to_owned();
        }
        let vkey = vkey(&server).await;
        prove_all(&server, &answered, &vkey).await;

        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let workers: Vec<_> = (0..16)
            .map(|_| {
                let (endpoint, credentials) = (server.endpoint.clone(), server.credentials.clone());
                let (key_id, stop) = (key_id.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut ids = Vec::new();
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                        let body = serde_json::json!({ "KeyId": key_id, "Plaintext": "aGVsbG8=" });
                        let call =
                            common::try_signed_kms_call(&endpoint, &credentials, "Encrypt", &body);
                        match call.await {
                            Ok(r) if r.status() == 200 => {
                                let id = r.headers()["x-keyledger-event-id"].to_str().unwrap();
                                ids.push(id.to_owned());
                            }
                            Ok(_) => {}
                            Err(_) => break, // the server is gone
                        }
                    }
                    ids
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(400)).await;
        server.kill();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let before = answered.len();
        for worker in workers {
            answered.extend(worker.await.unwrap());
        }
        assert!(
            answered.len() > before,
            "round {round}: no call was answered"
        );
    }
    let server = Server::start(&data).await;
    let vkey = vkey(&server).await;
    prove_all(&server, &answered, &vkey).await;
    server.stop();
    let (ok, out) = verify(&data);
    assert!(ok, "{out}");
}

/// Every event id has an inclusion proof that verifies with `vkey`.
async fn prove_all(server: &Server, event_ids: &[String], vkey: &str) {
    if event_ids.is_empty() {
        return;
    }
    let head = positions(&server.data_dir).await as u64;
    checkpoint_covering(server, head, vkey).await;
    for id in event_ids {
        let (status, body) = text(server, &format!("/v1/trail/events/{id}/inclusion")).await;
        assert_eq!(status, 200, "answered call {id} has no proof: {body}");
        let proof: InclusionProof = serde_json::from_str(&body).unwrap();
        proof.verify(vkey).unwrap();
    }
}
