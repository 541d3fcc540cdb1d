//! Key lifecycle through the real aws-sdk-kms client against the in-process
//! service (real SQLite, real HTTP) whose clock the tests move.

mod common;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeyState, RotationType, Tag};
use common::{check_schemas, error_code, stored_events, trail, verify, InProcess};
use std::time::Duration as StdDuration;
use time::Duration;

async fn started() -> (tempfile::TempDir, InProcess) {
    let dir = tempfile::tempdir().unwrap();
    let kms = InProcess::start(&dir.path().join("data")).await;
    (dir, kms)
}

async fn new_key(s: &InProcess) -> String {
    s.client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
}

/// The key version a ciphertext blob names (bytes 17..21 of keyledger's format).
fn blob_version(blob: &Blob) -> u32 {
    u32::from_be_bytes(blob.as_ref()[17..21].try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_name_keys_wherever_aws_accepts_them() {
    let (_dir, s) = started().await;
    let kms = &s.client;
    let a = new_key(&s).await;
    let b = new_key(&s).await;
    let account = &s.credentials.account_id;
    kms.create_alias()
        .alias_name("alias/payments")
        .target_key_id(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(
            kms.create_alias()
                .alias_name("alias/payments")
                .target_key_id(&b)
                .send()
                .await
        ),
        "AlreadyExistsException"
    );
    assert_eq!(
        error_code(
            kms.create_alias()
                .alias_name("payments")
                .target_key_id(&b)
                .send()
                .await
        ),
        "ValidationException"
    );
    assert_eq!(
        error_code(
            kms.create_alias()
                .alias_name("alias/aws/s3")
                .target_key_id(&b)
                .send()
                .await
        ),
        "NotAuthorizedException"
    );
    assert_eq!(
        error_code(
            kms.create_alias()
                .alias_name("alias/bad name")
                .target_key_id(&b)
                .send()
                .await
        ),
        "ValidationException"
    );
    assert_eq!(
        error_code(
            kms.create_alias()
                .alias_name("alias/x")
                .target_key_id("alias/payments")
                .send()
                .await
        ),
        "ValidationException"
    );

    let alias_arn = format!("arn:aws:kms:us-east-1:{account}:alias/payments");
    for name in ["alias/payments", alias_arn.as_str()] {
        let meta = kms
            .describe_key()
            .key_id(name)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(meta.key_id(), a);
        let blob = kms
            .encrypt()
            .key_id(name)
            .plaintext(Blob::new(b"hi".to_vec()))
            .send()
            .await
            .unwrap()
            .ciphertext_blob
            .unwrap();
        let out = kms
            .decrypt()
            .key_id(name)
            .ciphertext_blob(blob)
            .send()
            .await
            .unwrap();
        assert_eq!(out.plaintext.unwrap().as_ref(), b"hi");
    }
    // Operations that take only key ids and ARNs refuse aliases, as AWS does.
    assert_eq!(
        error_code(kms.disable_key().key_id("alias/payments").send().await),
        "NotFoundException"
    );
    assert_eq!(
        error_code(kms.describe_key().key_id("alias/nothing").send().await),
        "NotFoundException"
    );

    kms.create_alias()
        .alias_name("alias/other")
        .target_key_id(&b)
        .send()
        .await
        .unwrap();
    kms.create_alias()
        .alias_name("alias/another")
        .target_key_id(&a)
        .send()
        .await
        .unwrap();
    let all = kms.list_aliases().send().await.unwrap();
    let names: Vec<&str> = all
        .aliases()
        .iter()
        .map(|x| x.alias_name().unwrap())
        // The AWS managed aliases are listed after the account's own.
        .filter(|name| !name.starts_with("alias/aws/"))
        .collect();
    assert_eq!(names, ["alias/another", "alias/other", "alias/payments"]);
    assert_eq!(all.aliases()[2].alias_arn(), Some(alias_arn.as_str()));
    assert_eq!(all.aliases()[2].target_key_id(), Some(a.as_str()));
    let of_a = kms.list_aliases().key_id(&a).send().await.unwrap();
    assert_eq!(of_a.aliases().len(), 2);
    let first = kms.list_aliases().limit(2).send().await.unwrap();
    assert!(first.truncated());
    let rest = kms
        .list_aliases()
        .limit(100)
        .marker(first.next_marker().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.aliases().len(), all.aliases().len() - 2);
    assert_eq!(rest.aliases()[0].alias_name(), Some("alias/payments"));
    assert!(!rest.truncated());

    kms.update_alias()
        .alias_name("alias/payments")
        .target_key_id(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(
        kms.describe_key()
            .key_id("alias/payments")
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_id(),
        b
    );
    kms.delete_alias()
        .alias_name("alias/payments")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(kms.describe_key().key_id("alias/payments").send().await),
        "NotFoundException"
    );
    assert_eq!(
        error_code(kms.delete_alias().alias_name("alias/payments").send().await),
        "NotFoundException"
    );
    // A deleted alias name can be used again.
    kms.create_alias()
        .alias_name("alias/payments")
        .target_key_id(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(
        kms.describe_key()
            .key_id("alias/payments")
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_id(),
        a
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn descriptions_tags_and_policies() {
    let (_dir, s) = started().await;
    let kms = &s.client;
    let key = new_key(&s).await;
    kms.update_key_description()
        .key_id(&key)
        .description("new words")
        .send()
        .await
        .unwrap();
    assert_eq!(
        kms.describe_key()
            .key_id(&key)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .description(),
        Some("new words")
    );

    let tag = |k: &str, v: &str| Tag::builder().tag_key(k).tag_value(v).build().unwrap();
    kms.tag_resource()
        .key_id(&key)
        .tags(tag("team", "a"))
        .tags(tag("env", "prod"))
        .send()
        .await
        .unwrap();
    kms.tag_resource()
        .key_id(&key)
        .tags(tag("team", "b"))
        .send()
        .await
        .unwrap();
    let tags = kms.list_resource_tags().key_id(&key).send().await.unwrap();
    let pairs: Vec<(&str, &str)> = tags
        .tags()
        .iter()
        .map(|t| (t.tag_key(), t.tag_value()))
        .collect();
    assert_eq!(pairs, [("team", "b"), ("env", "prod")]);
    kms.untag_resource()
        .key_id(&key)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    assert_eq!(
        kms.list_resource_tags()
            .key_id(&key)
            .send()
            .await
            .unwrap()
            .tags()
            .len(),
        1
    );
    assert_eq!(
        error_code(
            kms.tag_resource()
                .key_id(&key)
                .tags(tag("aws:reserved", "x"))
                .send()
                .await
        ),
        "TagException"
    );
    let mut too_many = kms.tag_resource().key_id(&key);
    for i in 0..50 {
        too_many = too_many.tags(tag(&format!("k{i}"), "v"));
    }
    assert_eq!(
        error_code(too_many.send().await),
        "TagException",
        "50 new + 1 existing > 50"
    );

    let default = kms.get_key_policy().key_id(&key).send().await.unwrap();
    assert_eq!(default.policy_name(), Some("default"));
    let policy: serde_json::Value = serde_json::from_str(default.policy().unwrap()).unwrap();
    assert_eq!(
        policy["Statement"][0]["Principal"]["AWS"],
        format!("arn:aws:iam::{}:root", s.credentials.account_id)
    );
    let new_policy = &common::root_policy(&s.credentials.account_id, "x");
    kms.put_key_policy()
        .key_id(&key)
        .policy(new_policy)
        .send()
        .await
        .unwrap();
    assert_eq!(
        kms.get_key_policy()
            .key_id(&key)
            .send()
            .await
            .unwrap()
            .policy(),
        Some(new_policy.as_str())
    );
    assert_eq!(
        error_code(
            kms.put_key_policy()
                .key_id(&key)
                .policy("{nope")
                .send()
                .await
        ),
        "MalformedPolicyDocumentException"
    );
    assert_eq!(
        error_code(
            kms.put_key_policy()
                .key_id(&key)
                .policy(format!("{{\"a\":\"{}\"}}", "x".repeat(32768)))
                .send()
                .await
        ),
        "ValidationException"
    );
    assert_eq!(
        kms.list_key_policies()
            .key_id(&key)
            .send()
            .await
            .unwrap()
            .policy_names(),
        ["default"]
    );
    let created = kms
        .create_key()
        .policy(new_policy)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    assert_eq!(
        kms.get_key_policy()
            .key_id(&created)
            .send()
            .await
            .unwrap()
            .policy(),
        Some(new_policy.as_str())
    );

    // Every policy version stays in the ledger.
    let puts = stored_events(&s.data_dir)
        .await
        .into_iter()
        .filter(|e| e["event_type"] == "KeyPolicyPut")
        .count();
    assert_eq!(puts, 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_on_demand_and_scheduled_keeps_old_ciphertext_decrypting() {
    let (_dir, s) = started().await;
    let kms = &s.client;
    let key = new_key(&s).await;
    let status = kms
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert!(!status.key_rotation_enabled());
    assert_eq!(
        error_code(
            kms.enable_key_rotation()
                .key_id(&key)
                .rotation_period_in_days(89)
                .send()
                .await
        ),
        "ValidationException"
    );
    assert_eq!(
        error_code(
            kms.enable_key_rotation()
                .key_id(&key)
                .rotation_period_in_days(2561)
                .send()
                .await
        ),
        "ValidationException"
    );
    kms.enable_key_rotation().key_id(&key).send().await.unwrap();
    let status = kms
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert!(status.key_rotation_enabled());
    assert_eq!(status.rotation_period_in_days(), Some(365));
    let next = status.next_rotation_date().unwrap().secs();
    use keyledger::app::Clock;
    let expected = (s.clock.now() + Duration::days(365)).unix_timestamp();
    assert!((next - expected).abs() <= 1, "next rotation in 365 days");

    let v1 = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"version one".to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    assert_eq!(blob_version(&v1), 1);
    let rotated = kms
        .rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert!(rotated.key_id().unwrap().ends_with(&key));
    let v2 = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"version two".to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    assert_eq!(
        blob_version(&v2),
        2,
        "new encryptions use the newest version"
    );
    assert_eq!(
        kms.decrypt()
            .ciphertext_blob(v1.clone())
            .send()
            .await
            .unwrap()
            .plaintext
            .unwrap()
            .as_ref(),
        b"version one"
    );
    assert_eq!(
        kms.decrypt()
            .ciphertext_blob(v2)
            .send()
            .await
            .unwrap()
            .plaintext
            .unwrap()
            .as_ref(),
        b"version two"
    );
    let moved = kms
        .re_encrypt()
        .ciphertext_blob(v1)
        .destination_key_id(&key)
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    assert_eq!(
        blob_version(&moved),
        2,
        "ReEncrypt moves old ciphertext to the newest version"
    );

    // The scheduler rotates when the period is over (the clock moves, nobody sleeps).
    assert_eq!(s.advance(Duration::days(364)).await, 0);
    assert_eq!(s.advance(Duration::days(2)).await, 1);
    let rotations = kms.list_key_rotations().key_id(&key).send().await.unwrap();
    let kinds: Vec<&RotationType> = rotations
        .rotations()
        .iter()
        .map(|r| r.rotation_type().unwrap())
        .collect();
    assert_eq!(kinds, [&RotationType::OnDemand, &RotationType::Automatic]);
    let v3 = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"3".to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    assert_eq!(blob_version(&v3), 3);
    let service_event = trail(&s.data_dir)
        .await
        .into_iter()
        .find(|r| r["eventName"] == "RotateKey")
        .unwrap();
    assert_eq!(service_event["eventType"], "AwsServiceEvent");
    assert_eq!(
        service_event["userIdentity"]["invokedBy"],
        "kms.amazonaws.com"
    );

    // On-demand rotations are limited to 10 per key.
    for _ in 1..10 {
        kms.rotate_key_on_demand()
            .key_id(&key)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        error_code(kms.rotate_key_on_demand().key_id(&key).send().await),
        "LimitExceededException"
    );
    assert_eq!(
        kms.list_key_rotations()
            .key_id(&key)
            .send()
            .await
            .unwrap()
            .rotations()
            .len(),
        11
    );
    kms.disable_key_rotation()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert!(!kms
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_rotation_enabled());
    assert_eq!(
        s.advance(Duration::days(400)).await,
        0,
        "no rotation once disabled"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_waits_then_crypto_shreds() {
    let (_dir, s) = started().await;
    let kms = &s.client;
    let key = new_key(&s).await;
    let keep = new_key(&s).await;
    kms.create_alias()
        .alias_name("alias/doomed")
        .target_key_id(&key)
        .send()
        .await
        .unwrap();
    let blob = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"gone soon".to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    kms.rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .unwrap();

    assert_eq!(
        error_code(
            kms.schedule_key_deletion()
                .key_id(&key)
                .pending_window_in_days(6)
                .send()
                .await
        ),
        "ValidationException"
    );
    assert_eq!(
        error_code(
            kms.schedule_key_deletion()
                .key_id(&key)
                .pending_window_in_days(31)
                .send()
                .await
        ),
        "ValidationException"
    );
    let scheduled = kms
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(scheduled.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(scheduled.pending_window_in_days(), Some(7));
    let meta = kms
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(meta.deletion_date(), scheduled.deletion_date());
    assert_eq!(
        error_code(
            kms.encrypt()
                .key_id(&key)
                .plaintext(Blob::new(b"x".to_vec()))
                .send()
                .await
        ),
        "KMSInvalidStateException"
    );
    assert_eq!(
        error_code(kms.decrypt().ciphertext_blob(blob.clone()).send().await),
        "KMSInvalidStateException"
    );
    assert_eq!(
        error_code(kms.schedule_key_deletion().key_id(&key).send().await),
        "KMSInvalidStateException"
    );

    // Cancelling returns it Disabled, as at AWS; then schedule again.
    kms.cancel_key_deletion().key_id(&key).send().await.unwrap();
    assert_eq!(
        kms.describe_key()
            .key_id(&key)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_state(),
        Some(&KeyState::Disabled)
    );
    kms.schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();

    // What the ledger holds of the key before it goes: its sealed material and wrapped shredding key.
    let wrapped: Vec<u8> = {
        use sqlx::{ConnectOptions, Row};
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(s.data_dir.join("ledger.db"))
            .read_only(true)
            .connect()
            .await
            .unwrap();
        sqlx::query("SELECT wrapped FROM shredding_keys WHERE key_id = ?")
            .bind(&key)
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get("wrapped")
    };

    assert_eq!(s.advance(Duration::days(6)).await, 0, "not yet due");
    assert_eq!(s.advance(Duration::days(2)).await, 1);

    // Gone for every API; its aliases went with it; the other key is untouched.
    assert_eq!(
        error_code(kms.describe_key().key_id(&key).send().await),
        "NotFoundException"
    );
    assert_eq!(
        error_code(kms.decrypt().ciphertext_blob(blob).send().await),
        "NotFoundException"
    );
    assert_eq!(
        error_code(kms.cancel_key_deletion().key_id(&key).send().await),
        "NotFoundException"
    );
    assert_eq!(
        error_code(kms.describe_key().key_id("alias/doomed").send().await),
        "NotFoundException"
    );
    assert!(kms
        .list_aliases()
        .send()
        .await
        .unwrap()
        .aliases()
        .iter()
        .all(|a| a.target_key_id().is_none()));
    assert_eq!(kms.list_keys().send().await.unwrap().keys().len(), 1);
    kms.encrypt()
        .key_id(&keep)
        .plaintext(Blob::new(b"fine".to_vec()))
        .send()
        .await
        .unwrap();
    let deleted = trail(&s.data_dir)
        .await
        .into_iter()
        .find(|r| r["eventName"] == "DeleteKey")
        .unwrap();
    assert_eq!(deleted["eventType"], "AwsServiceEvent");

    // The events remain and the chain still verifies.
    let events = stored_events(&s.data_dir).await;
    let sealed: Vec<String> = events
        .iter()
        .filter(|e| {
            (e["event_type"] == "KeyCreated" || e["event_type"] == "KeyRotated")
                && e["body"]["key_id"] == key.as_str()
        })
        .map(|e| e["body"]["sealed_material"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sealed.len(), 2);
    let (ok, out) = verify(&s.data_dir);
    assert!(ok, "{out}");

    // Crypto-shredding: no file of the data dir holds the wrapped shredding key any more, and
    // no shredding key left in the ledger — unwrapped with the real root key — opens the material.
    s.stop().await;
    for entry in std::fs::read_dir(&_dir.path().join("data")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes
                .windows(wrapped.len())
                .any(|w| w == wrapped.as_slice()),
            "{} still holds the shredding key",
            path.display()
        );
    }
    use base64::Engine as _;
    use keyledger::crypto::{
        aead,
        root_key::{labelled_aad, RootKey, LABEL_KEY_MATERIAL, LABEL_SHREDDING_KEY},
        secret::SecretKey,
    };
    let (root, _) = RootKey::load_or_create_file(&_dir.path().join("data/root.key")).unwrap();
    let key_uuid = keyledger::domain::ids::KeyId::parse(&key).unwrap();
    let remaining: Vec<(String, Vec<u8>)> = {
        use sqlx::{ConnectOptions, Row};
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(_dir.path().join("data/ledger.db"))
            .read_only(true)
            .connect()
            .await
            .unwrap();
        sqlx::query("SELECT key_id, wrapped FROM shredding_keys")
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.get("key_id"), r.get("wrapped")))
            .collect()
    };
    assert_eq!(
        remaining.len(),
        1,
        "only the kept key's shredding key is left"
    );
    for (owner, wrapped) in remaining {
        let owner = keyledger::domain::ids::KeyId::parse(&owner).unwrap();
        let shredding = SecretKey::from_slice(
            &root
                .unwrap(LABEL_SHREDDING_KEY, owner.as_bytes(), &wrapped)
                .unwrap(),
        )
        .unwrap();
        for (version, material) in sealed.iter().enumerate() {
            let material = base64::engine::general_purpose::STANDARD
                .decode(material)
                .unwrap();
            let mut context = key_uuid.as_bytes().to_vec();
            context.extend_from_slice(&(version as u32 + 1).to_be_bytes());
            assert!(aead::open(
                &shredding,
                &labelled_aad(LABEL_KEY_MATERIAL, &context),
                &material
            )
            .is_err());
        }
    }
    // Nor does the destroyed one, were it still known under any key id: it is gone, so
    // the only way left would be the wrapped bytes, which no file holds (checked above).
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_lifecycle_commands_on_one_key_never_collide() {
    let (_dir, s) = started().await;
    let key = new_key(&s).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let kms = s.client.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            match i % 4 {
                0 => kms
                    .rotate_key_on_demand()
                    .key_id(&key)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| common::sdk_code(e)),
                1 => kms
                    .disable_key()
                    .key_id(&key)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| common::sdk_code(e)),
                2 => kms
                    .enable_key()
                    .key_id(&key)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| common::sdk_code(e)),
                _ => kms
                    .tag_resource()
                    .key_id(&key)
                    .tags(
                        Tag::builder()
                            .tag_key(format!("t{i}"))
                            .tag_value("v")
                            .build()
                            .unwrap(),
                    )
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| common::sdk_code(e)),
            }
        }));
    }
    let mut rotations_ok = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(()) if i % 4 == 0 => rotations_ok += 1,
            Ok(()) => {}
            // A rotation may meet the key disabled; nothing else may fail.
            Err(code) => assert!(
                i % 4 == 0 && code == "DisabledException",
                "task {i}: {code}"
            ),
        }
    }
    let events = stored_events(&s.data_dir).await;
    let stream = format!("key/{key}");
    let mut versions: Vec<u64> = events
        .iter()
        .filter(|e| e["stream"] == stream.as_str())
        .map(|e| e["stream_version"].as_u64().unwrap())
        .collect();
    let n = versions.len();
    versions.sort();
    versions.dedup();
    assert_eq!(versions.len(), n, "no stream version twice");
    assert_eq!(versions, (1..=n as u64).collect::<Vec<_>>(), "no gap");
    let mut material: Vec<u64> = events
        .iter()
        .filter(|e| e["event_type"] == "KeyRotated" && e["body"]["key_id"] == key.as_str())
        .map(|e| e["body"]["material_version"].as_u64().unwrap())
        .collect();
    assert_eq!(material.len(), rotations_ok);
    material.sort();
    assert_eq!(
        material,
        (2..2 + rotations_ok as u64).collect::<Vec<_>>(),
        "never two versions with one number"
    );
    let tags = s
        .client
        .list_resource_tags()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 10, "no tag lost");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_type_is_written_and_matches_its_schema() {
    let (_dir, s) = started().await;
    let kms = &s.client;
    let key = new_key(&s).await;
    let other = new_key(&s).await;
    kms.disable_key().key_id(&key).send().await.unwrap();
    kms.enable_key().key_id(&key).send().await.unwrap();
    kms.update_key_description()
        .key_id(&key)
        .description("d")
        .send()
        .await
        .unwrap();
    kms.tag_resource()
        .key_id(&key)
        .tags(Tag::builder().tag_key("a").tag_value("b").build().unwrap())
        .send()
        .await
        .unwrap();
    kms.untag_resource()
        .key_id(&key)
        .tag_keys("a")
        .send()
        .await
        .unwrap();
    kms.put_key_policy()
        .key_id(&key)
        .policy(common::root_policy(
            &s.credentials.account_id,
            "every-event",
        ))
        .send()
        .await
        .unwrap();
    let grantee = format!("arn:aws:iam::{}:user/admin", s.credentials.account_id);
    for revoke in [false, true] {
        let grant = kms
            .create_grant()
            .key_id(&key)
            .grantee_principal(&grantee)
            .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
            .constraints(
                aws_sdk_kms::types::GrantConstraints::builder()
                    .encryption_context_equals("app", "schemas")
                    .build(),
            )
            .retiring_principal(&grantee)
            .name("every-event")
            .send()
            .await
            .unwrap();
        let grant_id = grant.grant_id.unwrap();
        if revoke {
            kms.revoke_grant()
                .key_id(&key)
                .grant_id(grant_id)
                .send()
                .await
                .unwrap();
        } else {
            kms.retire_grant()
                .key_id(&key)
                .grant_id(grant_id)
                .send()
                .await
                .unwrap();
        }
    }
    kms.enable_key_rotation().key_id(&key).send().await.unwrap();
    kms.rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    kms.disable_key_rotation()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    kms.create_alias()
        .alias_name("alias/a")
        .target_key_id(&key)
        .send()
        .await
        .unwrap();
    kms.update_alias()
        .alias_name("alias/a")
        .target_key_id(&other)
        .send()
        .await
        .unwrap();
    kms.delete_alias()
        .alias_name("alias/a")
        .send()
        .await
        .unwrap();
    kms.schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    kms.cancel_key_deletion().key_id(&key).send().await.unwrap();
    kms.schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    s.advance(Duration::days(8)).await;
    // Identities: an account, a user and its keys, policies, a role (IAM through its SDK).
    let (_, key_id, secret) = s
        .service
        .create_account_offline(Some("999988887777"))
        .await
        .unwrap();
    let iam = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new("us-east-1"))
            .endpoint_url(&s.endpoint)
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                key_id,
                secret.as_str(),
                None,
                None,
                "test",
            ))
            .build(),
    );
    iam.create_user().user_name("u").send().await.unwrap();
    let user_key = iam
        .create_access_key()
        .user_name("u")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap()
        .access_key_id;
    for status in [
        aws_sdk_iam::types::StatusType::Inactive,
        aws_sdk_iam::types::StatusType::Active,
    ] {
        iam.update_access_key()
            .user_name("u")
            .access_key_id(&user_key)
            .status(status)
            .send()
            .await
            .unwrap();
    }
    iam.delete_access_key()
        .user_name("u")
        .access_key_id(&user_key)
        .send()
        .await
        .unwrap();
    {
        let policy = keyledger::app::bootstrap::ADMIN_POLICY_DOCUMENT;
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}"#;
        iam.put_user_policy()
            .user_name("u")
            .policy_name("p")
            .policy_document(policy)
            .send()
            .await
            .unwrap();
        iam.delete_user_policy()
            .user_name("u")
            .policy_name("p")
            .send()
            .await
            .unwrap();
        iam.create_role()
            .role_name("r")
            .assume_role_policy_document(trust)
            .send()
            .await
            .unwrap();
        iam.put_role_policy()
            .role_name("r")
            .policy_name("p")
            .policy_document(policy)
            .send()
            .await
            .unwrap();
        iam.delete_role_policy()
            .role_name("r")
            .policy_name("p")
            .send()
            .await
            .unwrap();
        iam.delete_role().role_name("r").send().await.unwrap();
    }
    iam.delete_user().user_name("u").send().await.unwrap();
    let external = kms
        .create_key()
        .origin(aws_sdk_kms::types::OriginType::External)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    common::import_material(kms, &external, &[9; 32]).await;
    kms.delete_imported_key_material()
        .key_id(&external)
        .send()
        .await
        .unwrap();
    let mrk = kms
        .create_key()
        .multi_region(true)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    kms.replicate_key()
        .key_id(&mrk)
        .replica_region("eu-west-1")
        .send()
        .await
        .unwrap();
    kms.update_primary_region()
        .key_id(&mrk)
        .primary_region("eu-west-1")
        .send()
        .await
        .unwrap();
    let seen = check_schemas(&s.data_dir).await;
    let expected: std::collections::BTreeSet<String> = keyledger::domain::events::EVENT_TYPES
        .iter()
        .map(|t| t.to_string())
        .collect();
    assert_eq!(seen, expected);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_runs_by_itself_in_the_real_binary() {
    // The binary's background scheduler: a key with a 7-day window is not deleted in real time.
    let dir = tempfile::tempdir().unwrap();
    let server = common::Server::start(&dir.path().join("data")).await;
    let key = server
        .client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    server
        .client
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    let meta = server
        .client
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state(), Some(&KeyState::PendingDeletion));
}
